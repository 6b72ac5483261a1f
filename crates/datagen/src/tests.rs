//! Determinism, batching and the shape of generated datasets.

use super::*;
use crate::image::{END, SPAN};
use chrono::DateTime;
use imagedex_model::reference::is_digest;
use imagedex_model::VulnerabilityCounts;
use imagedex_model::{merge_observations, ImageReference, Tag};
use std::collections::{BTreeMap, BTreeSet};

fn dataset(images: u64, seed: u64) -> Vec<Vec<Observation>> {
    Generator::new(images, seed).collect()
}

#[test]
fn a_seed_gives_the_same_observations_and_another_seed_others() {
    let first = dataset(2_000, 42);
    assert_eq!(first.len(), 2_000);
    assert_eq!(first, dataset(2_000, 42));

    let other = dataset(2_000, 43);
    assert_ne!(first, other);
    let digests = |d: &[Vec<Observation>]| -> BTreeSet<String> {
        d.iter()
            .flatten()
            .filter_map(|o| o.repo_digest.clone())
            .collect()
    };
    assert!(digests(&first).is_disjoint(&digests(&other)));
}

#[test]
fn the_batch_size_changes_the_cuts_and_nothing_else() {
    let images: Vec<Observation> = dataset(1_500, 9).into_iter().flatten().collect();
    for max in [1, 2, 7, 5_000] {
        let mut total = 0;
        let mut all = Vec::new();
        let mut seen = BTreeSet::new();
        for batch in Generator::new(1_500, 9).batches(max) {
            let digests: BTreeSet<&String> = batch
                .observations
                .iter()
                .map(|o| o.repo_digest.as_ref().unwrap())
                .collect();
            assert_eq!(digests.len() as u64, batch.images, "one digest per image");
            for digest in digests {
                assert!(seen.insert(digest.clone()), "{digest} split over batches");
            }
            assert!(batch.observations.len() <= max.max(3), "batch over {max}");
            total += batch.images;
            all.extend(batch.observations);
        }
        assert_eq!(total, 1_500);
        assert_eq!(all, images, "max {max}");
    }
}

#[test]
fn multi_arch_and_unscanned_shares_land_in_their_ranges() {
    for seed in [1, 2, 3] {
        let images = dataset(5_000, seed);
        let share = |f: &dyn Fn(&Vec<Observation>) -> bool| {
            images.iter().filter(|i| f(i)).count() as f64 / images.len() as f64
        };
        let multi_arch = share(&|i| i.len() > 1);
        assert!(
            (0.10..=0.20).contains(&multi_arch),
            "seed {seed}: {multi_arch}"
        );
        let unscanned = share(&|i| i.iter().all(|o| o.vulnerability_counts.is_none()));
        assert!(
            (0.20..=0.30).contains(&unscanned),
            "seed {seed}: {unscanned}"
        );
        // Scanned or not is a property of the whole image.
        assert!(images.iter().all(|i| i
            .iter()
            .all(|o| o.vulnerability_counts.is_some() == i[0].vulnerability_counts.is_some())));
    }
}

#[test]
fn every_observation_has_an_identity_and_valid_references() {
    let start = DateTime::from_timestamp(END - SPAN, 0).unwrap();
    let end = DateTime::from_timestamp(END, 0).unwrap();
    for image in dataset(3_000, 5) {
        let platforms: BTreeSet<_> = image
            .iter()
            .map(|o| o.flavor.as_ref().map(|f| f.os_architecture.clone()))
            .collect();
        assert_eq!(platforms.len(), image.len(), "one observation per platform");
        for o in &image {
            assert_eq!(o.source, SOURCE);
            assert_eq!(o.repo_digest, image[0].repo_digest);
            assert!(is_digest(o.repo_digest.as_deref().unwrap()), "{o:?}");
            assert!(is_digest(o.image_id.as_deref().unwrap()), "{o:?}");
            assert_eq!(o.findings, None);

            let name = o.name.to_string();
            let parsed = ImageReference::parse(&name).expect("names should parse");
            assert_eq!(parsed.name, o.name);
            for tag in &o.image_tags {
                let parsed = ImageReference::parse(&format!("{name}:{tag}")).unwrap();
                assert_eq!(parsed.tag.as_deref(), Some(tag.as_str()));
            }
            for tag in &o.custom_tags {
                assert_eq!(&Tag::parse(&tag.to_string()).unwrap(), tag);
            }

            let flavor = o.flavor.as_ref().expect("every observation has a platform");
            let size = flavor.size.unwrap();
            assert!((5 << 20..=2 << 30).contains(&size), "{size}");
            let built = flavor.built_at.unwrap();
            assert!(start <= built && built <= end, "{built}");
            if let Some(published) = o.published_at {
                assert!(published >= built);
            }
        }
    }
}

#[test]
fn observations_merge_into_exactly_the_images_asked_for() {
    let mut by_name: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    for o in dataset(3_000, 11).into_iter().flatten() {
        by_name.entry(o.name.to_string()).or_default().push(o);
    }
    let records: Vec<_> = by_name
        .values()
        .flat_map(|o| merge_observations(o))
        .collect();
    assert_eq!(records.len(), 3_000);
    let multi = records.iter().filter(|r| r.flavors.len() > 1).count();
    assert!((300..=600).contains(&multi), "{multi}");
    let counted = records
        .iter()
        .filter(|r| r.vulnerabilities.is_some())
        .count();
    assert!((2_100..=2_400).contains(&counted), "{counted}");
}

#[test]
fn datasets_look_like_an_organisation() {
    let generator = Generator::new(20_000, 1);
    let repositories = generator.repositories();
    let images: Vec<Vec<Observation>> = generator.collect();
    let first = |i: &Vec<Observation>| i[0].clone();

    // Each repository's newest image, and only that one, is `latest`.
    let latest = images
        .iter()
        .filter(|i| first(i).image_tags.contains(&"latest".to_string()))
        .count();
    assert_eq!(latest, repositories);

    let registries: BTreeSet<String> = images
        .iter()
        .map(|i| first(i).name.registry.unwrap())
        .collect();
    for expected in [
        "docker.io",
        "ghcr.io",
        "quay.io",
        "gcr.io",
        "public.ecr.aws",
        "registry.internal.example:5000",
    ] {
        assert!(registries.contains(expected), "{expected}: {registries:?}");
    }
    assert!(registries.iter().any(|r| r.ends_with(".amazonaws.com")));
    assert!(images
        .iter()
        .any(|i| first(i).name.repository.starts_with("library/")));

    let tags: Vec<String> = images.iter().flat_map(|i| first(i).image_tags).collect();
    assert!(tags.iter().any(|t| t.starts_with("sha-")));
    assert!(tags.iter().any(|t| t.ends_with("-alpine")));
    let observations: Vec<&Observation> = images.iter().flatten().collect();
    assert!(observations
        .iter()
        .any(|o| o.flavor.as_ref().unwrap().os_name == "windows"));
    let keys: BTreeSet<&str> = observations
        .iter()
        .flat_map(|o| o.custom_tags.iter().map(Tag::key))
        .collect();
    assert_eq!(keys, BTreeSet::from(["cluster", "env", "service", "team"]));

    // Vulnerability counts are skewed: criticals mostly zero, highs and mediums larger.
    let counts: Vec<_> = observations
        .iter()
        .filter_map(|o| o.vulnerability_counts)
        .collect();
    let zero_critical = counts.iter().filter(|c| c.critical == 0).count();
    assert!(
        zero_critical * 2 > counts.len(),
        "{zero_critical} of {}",
        counts.len()
    );
    let mean = |f: fn(&VulnerabilityCounts) -> i64| {
        counts.iter().map(f).sum::<i64>() as f64 / counts.len() as f64
    };
    assert!(mean(|c| c.medium) > mean(|c| c.high));
    assert!(mean(|c| c.high) > 3.0 * mean(|c| c.critical));
}
