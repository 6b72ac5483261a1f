//! A cursor walk while imports land: every image that exists for the whole walk with an
//! unchanged sort value appears exactly once, whatever is added or changed meanwhile.

use crate::support::TestApp;
use axum::http::StatusCode;
use imagedex_datagen::Generator;
use imagedex_model::{Observation, Tag};
use std::collections::{BTreeMap, HashMap};

const PATH: &str = "/api/v2/container_images";

/// The generated images of `seed`, one `Vec<Observation>` per image.
fn images(count: u64, seed: u64) -> Vec<Vec<Observation>> {
    Generator::new(count, seed).collect()
}

/// Sort values of every image under `sort`, read through the API in one page.
async fn sort_values(app: &TestApp, sort: &str) -> HashMap<String, serde_json::Value> {
    let (status, body) = app
        .get(&format!("{PATH}?page[size]=10000&sort={sort}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let field = sort.trim_start_matches('-');
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let attributes = &item["attributes"];
            let value = match field.split_once('.') {
                Some((outer, inner)) => attributes[outer][inner].clone(),
                None => attributes[field].clone(),
            };
            (item["id"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

async fn walk_while_writing(sort: &str) {
    let app = TestApp::new().await;
    let base = images(1500, 11);
    for chunk in base.chunks(500) {
        app.store
            .apply_observations(app.org.id, &chunk.concat())
            .await
            .unwrap();
    }
    let before = sort_values(&app, sort).await;
    assert_eq!(before.len(), 1500);

    // Writes between pages: new images, and existing ones changed (a custom tag for some,
    // vulnerability counts for others), enough to outgrow any write overlay.
    let mut writes: Vec<Vec<Observation>> = images(5000, 12)
        .chunks(250)
        .map(|chunk| chunk.concat())
        .collect();
    for (n, chunk) in base.chunks(100).enumerate() {
        let mut changed = chunk.concat();
        for obs in &mut changed {
            if n % 2 == 0 {
                obs.custom_tags
                    .push(Tag::new("walk", &format!("round-{n}")));
            } else if let Some(counts) = obs.vulnerability_counts.as_mut() {
                counts.critical += 7;
            }
        }
        writes.insert(2 * n + 1, changed);
    }

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut uri = format!("{PATH}?page[size]=40&sort={sort}");
    let mut writes = writes.into_iter();
    loop {
        let (status, body) = app.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        for item in body["data"].as_array().unwrap() {
            *seen
                .entry(item["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        if let Some(batch) = writes.next() {
            app.store
                .apply_observations(app.org.id, &batch)
                .await
                .unwrap();
        }
        match body["meta"]["pagination"]["next_cursor"].as_str() {
            Some(cursor) => uri = format!("{PATH}?page[size]=40&sort={sort}&page[cursor]={cursor}"),
            None => break,
        }
    }
    assert!(
        writes.next().is_none(),
        "every write should land during the walk"
    );

    let after = sort_values(&app, sort).await;
    assert_eq!(after.len(), 6500);
    let stable: Vec<&String> = before
        .iter()
        .filter(|(id, value)| after.get(*id) == Some(value))
        .map(|(id, _)| id)
        .collect();
    assert!(
        stable.len() >= 500,
        "the test should keep many images stable"
    );
    for id in stable {
        assert_eq!(seen.get(id), Some(&1), "{id} under sort {sort}");
    }
    for (id, times) in &seen {
        assert!(after.contains_key(id), "{id} was listed but never existed");
        assert!(*times <= 2, "{id} listed {times} times");
    }
}

#[tokio::test]
async fn a_walk_by_name_sees_each_stable_image_once_while_imports_land() {
    walk_while_writing("name").await;
}

#[tokio::test]
async fn a_walk_by_critical_count_sees_each_stable_image_once_while_imports_land() {
    walk_while_writing("-vulnerability_count.critical").await;
}
