//! A by-hand measurement of the query index: builds a synthetic inventory, then prints the
//! build time, the index's heap per image and p50/p99 latencies of typical queries.
//!
//! ```text
//! cargo run -p imagedex-query --release --example index_bench -- [images] [runs] [build]
//! ```
//!
//! The data follows the shape the data generator describes: about one repository per 20
//! images with Zipf-like popularity, nine registries, semver or commit tags with `latest` on
//! the newest image, 15 % multi-arch images, custom tags `team`, `service`, `env` and
//! `cluster` on most images, and no scanner data on a quarter of them.

use chrono::{DateTime, Utc};
use imagedex_model::{Flavor, ImageRecord, Tag, VulnerabilityCounts};
use imagedex_query::{
    GroupQuery, GroupSort, ImageQuery, ImageSort, ImageSortField, Index, Position, TagFilter,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A small deterministic generator (SplitMix64), so every run measures the same data.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.next())).collect()
    }
}

const REGISTRIES: &[&str] = &[
    "docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "public.ecr.aws",
    "registry.internal.example:5000",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "210987654321.dkr.ecr.us-west-2.amazonaws.com",
];
const WORDS: &[&str] = &[
    "api",
    "web",
    "auth",
    "billing",
    "payments",
    "search",
    "gateway",
    "worker",
    "cache",
    "queue",
    "metrics",
    "logs",
    "ingest",
    "export",
    "admin",
    "portal",
    "mailer",
    "scheduler",
    "reports",
    "ledger",
    "catalog",
    "orders",
    "users",
    "sessions",
    "media",
    "thumbs",
    "notify",
    "audit",
];
const TEAMS: &[&str] = &[
    "payments", "search", "platform", "data", "identity", "growth", "infra", "mobile",
];
const ENVS: &[&str] = &["prod", "staging", "dev", "qa"];
const CLUSTERS: &[&str] = &["eu-1", "eu-2", "us-1", "us-2", "ap-1"];

/// A repository: where it lives, and how its images look.
struct Repository {
    registry: &'static str,
    path: String,
    short: String,
    semver: bool,
    windows: bool,
    team: &'static str,
    images: u64,
}

fn repositories(dice: &mut Dice, images: u64) -> Vec<Repository> {
    let count = (images / 20).max(1);
    // Zipf-like popularity: every repository gets one image, the rest go by weight 1/(r + 2.7).
    let weights: Vec<f64> = (0..count).map(|r| 1.0 / (r as f64 + 2.7)).collect();
    let total: f64 = weights.iter().sum();
    let spare = images - count;
    let mut given = 0;
    let mut repos: Vec<Repository> = weights
        .iter()
        .enumerate()
        .map(|(r, w)| {
            let share = (w / total * spare as f64) as u64;
            given += share + 1;
            let registry = REGISTRIES
                [(dice.below(100) as usize * REGISTRIES.len() / 100).min(REGISTRIES.len() - 1)];
            let (a, b) = (dice.pick(WORDS), dice.pick(WORDS));
            let path = if registry == "docker.io" && dice.chance(30) {
                format!("library/{a}{r}")
            } else {
                format!("{}/{a}-{b}-{r}", dice.pick(TEAMS))
            };
            Repository {
                registry,
                short: path.rsplit('/').next().unwrap_or(&path).to_string(),
                path,
                semver: dice.chance(70),
                windows: dice.chance(3),
                team: dice.pick(TEAMS),
                images: share + 1,
            }
        })
        .collect();
    repos[0].images += images - given;
    repos
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("generated times should be valid")
}

fn image(dice: &mut Dice, repo: &Repository, version: u64) -> ImageRecord {
    let name = format!("{}/{}", repo.registry, repo.path);
    let newest = version + 1 == repo.images;
    let mut tags = Vec::new();
    if newest {
        tags.push("latest".to_string());
    }
    if !dice.chance(3) || newest {
        if repo.semver {
            let (major, minor, patch) = (1 + version / 100, (version / 10) % 10, version % 10);
            tags.push(format!("{major}.{minor}.{patch}"));
            if patch == 9 || newest {
                tags.push(format!("v{major}.{minor}"));
            }
            if dice.chance(20) {
                tags.push(format!("{major}.{minor}.{patch}-alpine"));
            }
        } else {
            tags.push(format!("sha-{:07x}", dice.next() & 0xfff_ffff));
            if dice.chance(5) {
                tags.push(dice.pick(&["main", "develop", "release"]).to_string());
            }
        }
    }

    let platforms: &[(&str, &str)] = if repo.windows {
        &[("windows", "amd64")]
    } else if dice.chance(15) {
        &[("linux", "amd64"), ("linux", "arm64"), ("linux", "arm/v7")][..2 + dice.below(2) as usize]
    } else {
        &[("linux", "amd64")]
    };
    let start = 1_653_000_000 + (version as i64) * 86_400 + dice.below(86_400) as i64;
    let flavors: Vec<Flavor> = platforms
        .iter()
        .map(|(os, arch)| {
            // Log-normal-ish between 5 MiB and 2 GiB: a product of a few uniform factors.
            let mib = 5.0
                * (1.0 + dice.below(1000) as f64 / 100.0)
                * (1.0 + dice.below(400) as f64 / 100.0);
            Flavor {
                os_name: os.to_string(),
                os_architecture: arch.to_string(),
                os_version: None,
                size: (!dice.chance(2)).then_some((mib.min(2048.0) * 1_048_576.0) as i64),
                built_at: Some(time(start)),
            }
        })
        .collect();

    let vulnerabilities = (!dice.chance(25)).then(|| VulnerabilityCounts {
        critical: if dice.chance(80) {
            0
        } else {
            dice.below(5) as i64
        },
        high: dice.below(20) as i64,
        medium: dice.below(60) as i64,
        low: dice.below(100) as i64,
        none: dice.below(3) as i64,
        unknown: if dice.chance(90) {
            0
        } else {
            dice.below(4) as i64
        },
    });

    let mut custom = Vec::new();
    if !dice.chance(10) {
        custom.push(format!("team:{}", repo.team));
        custom.push(format!("service:{}", repo.short));
        custom.push(format!("env:{}", dice.pick(ENVS)));
        custom.push(format!("cluster:{}", dice.pick(CLUSTERS)));
    }

    let digest = dice.hex();
    let mut record = ImageRecord {
        id: format!("{name}@sha256:{digest}"),
        registry: Some(repo.registry.to_string()),
        repository: repo.path.clone(),
        short_image: repo.short.clone(),
        name,
        repo_digest: Some(format!("sha256:{digest}")),
        image_ids: platforms
            .iter()
            .map(|_| format!("sha256:{}", dice.hex()))
            .collect(),
        image_tags: tags,
        flavors,
        sources: vec!["datagen".into()],
        custom_tags: custom
            .iter()
            .map(|t| Tag::parse(t).expect("generated tags should parse"))
            .collect(),
        container_count: if dice.chance(70) {
            0
        } else {
            dice.below(40) as i64
        },
        published_at: dice.chance(60).then(|| time(start + 3600)),
        vulnerabilities,
        tags: Vec::new(),
    };
    record.derive_tags();
    // As a record read back from the store would be: no spare capacity.
    record.tags.shrink_to_fit();
    record.custom_tags.shrink_to_fit();
    record.image_tags.shrink_to_fit();
    record
}

fn inventory(images: u64) -> Vec<Arc<ImageRecord>> {
    let mut dice = Dice(42);
    let repos = repositories(&mut dice, images);
    let mut records = Vec::with_capacity(images as usize);
    for repo in &repos {
        for version in 0..repo.images {
            records.push(Arc::new(image(&mut dice, repo, version)));
        }
    }
    // Shuffle, so the index is handed records in no useful order.
    for i in (1..records.len()).rev() {
        let j = dice.below(i as u64 + 1) as usize;
        records.swap(i, j);
    }
    records
}

/// The `q` quantile of sorted times; zero when there are none.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The CPU time this process has used, user and system, from `/proc/self/stat` (zero where
/// there is no such file): on a shared machine it tells the work apart from the waiting.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; 100 a second.
    (ticks(11) + ticks(12)) / 100.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `f` for each input and prints p50, p99 and max in milliseconds.
fn measure<T>(label: &str, inputs: &[T], mut f: impl FnMut(&T) -> usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = Vec::with_capacity(inputs.len());
    let mut answered = 0;
    for input in inputs {
        let start = Instant::now();
        answered += f(input);
        times.push(start.elapsed());
    }
    let mut sorted = times.clone();
    sorted.sort();
    let at = |q: f64| quantile(&sorted, q);
    println!(
        "{label:<58} p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms  ({} answers)",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0)),
        answered / inputs.len().max(1)
    );
    times
}

fn image_query(filter: &str, sort: &str, after: Option<Position>) -> ImageQuery {
    ImageQuery {
        filter: TagFilter::parse(filter).expect("benchmark filters should parse"),
        sort: ImageSort::parse(sort).expect("benchmark sorts should parse"),
        page_size: 100,
        after,
        fingerprint: "bench".into(),
    }
}

fn group_query(filter: &str, keys: &str) -> GroupQuery {
    GroupQuery {
        filter: TagFilter::parse(filter).expect("benchmark filters should parse"),
        keys: keys.split(',').map(str::to_string).collect(),
        sort: GroupSort::default(),
        page_size: 100,
        after: None,
        fingerprint: "bench".into(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let images: u64 = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("images should be a number"));
    let runs: usize = args
        .next()
        .map_or(200, |a| a.parse().expect("runs should be a number"));
    // A third argument `build` stops after the build; any other text runs only the queries
    // whose label contains it. Both are for profiling.
    let only = args.next().unwrap_or_default();
    let build_only = only == "build";

    let start = Instant::now();
    let records = inventory(images);
    println!(
        "generated {} records in {:.1} s",
        records.len(),
        start.elapsed().as_secs_f64()
    );

    // The store loads records ordered by id, so they usually arrive in id order and lie in
    // memory in that order: build from such a copy, then from the shuffled records. A copy of
    // millions of records does not fit beside them on a small machine, hence the limit.
    if images <= 2_000_000 {
        let mut by_id: Vec<&Arc<ImageRecord>> = records.iter().collect();
        by_id.sort_by(|a, b| a.id.cmp(&b.id));
        let loaded: Vec<Arc<ImageRecord>> =
            by_id.iter().map(|r| Arc::new(r.as_ref().clone())).collect();
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let built = Index::build(loaded);
        println!(
            "build from records in id order (as the store loads them): {:.2} s, {:.2} s of CPU ({} docs)",
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
            built.len()
        );
    }
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let index = Index::build(records);
    let built = start.elapsed();
    let cpu = cpu_seconds() - cpu;
    let per_image = |index: &Index| index.heap_bytes() as f64 / index.len() as f64;
    println!(
        "build from shuffled records: {:.2} s ({:.2} s per million), {:.2} s of CPU; heap {:.0} MB, {:.1} bytes per image",
        built.as_secs_f64(),
        built.as_secs_f64() * 1e6 / images as f64,
        cpu,
        index.heap_bytes() as f64 / 1e6,
        per_image(&index)
    );
    if build_only {
        return;
    }
    for field in ImageSortField::ALL {
        let start = Instant::now();
        index.prepare_sort(field);
        println!("  order {field:?}: {:.0} ms", ms(start.elapsed()));
    }
    println!(
        "heap with every order: {:.1} bytes per image",
        per_image(&index)
    );

    let mut dice = Dice(7);
    let n = index.len();
    // Cursors at random depths: the position of a random doc in the sort's order.
    let cursors = |dice: &mut Dice, filter: &str, sort: &str, count: usize| -> Vec<ImageQuery> {
        let query = image_query(filter, sort, None);
        let candidates = index.matching(&query.filter);
        let docs: Vec<u32> = candidates.iter().collect();
        (0..count)
            .map(|_| {
                let doc = docs[dice.below(docs.len().max(1) as u64) as usize];
                image_query(filter, sort, Some(query.sort.position(index.record(doc))))
            })
            .collect()
    };

    println!("\npage queries (page size 100), {runs} runs each:");
    let mut all_pages: Vec<Duration> = Vec::new();
    let mut page = |label: &str, queries: Vec<ImageQuery>| {
        if !label.contains(only.as_str()) {
            return;
        }
        let times = measure(label, &queries, |q| index.list_images(q).items.len());
        all_pages.extend(times);
    };
    let same = |q: ImageQuery| vec![q; runs];
    page(
        "first page, no filter, sort name",
        same(image_query("", "name", None)),
    );
    page(
        "first page, no filter, sort -size",
        same(image_query("", "-size", None)),
    );
    page(
        "random depth, no filter, sort -vulnerability_count.critical",
        cursors(&mut dice, "", "-vulnerability_count.critical", runs),
    );
    page(
        "random depth, no filter, sort -built_at",
        cursors(&mut dice, "", "-built_at", runs),
    );
    let deep: Vec<u32> = index
        .iter_sorted(&ImageSort::parse("name").unwrap(), None, index.all())
        .skip(n / 2)
        .take(1)
        .collect();
    let deep_position = deep.first().map(|doc| {
        ImageSort::parse("name")
            .unwrap()
            .position(index.record(*doc))
    });
    page(
        "500,000 deep (n/2) by cursor, sort name",
        same(image_query("", "name", deep_position)),
    );
    let teams: Vec<ImageQuery> = (0..runs)
        .map(|i| {
            image_query(
                &format!("team:{},env:prod", TEAMS[i % TEAMS.len()]),
                "-vulnerability_count.critical",
                None,
            )
        })
        .collect();
    page("team:X,env:prod sort -vulnerability_count.critical", teams);
    let registries: Vec<ImageQuery> = (0..runs)
        .map(|i| {
            image_query(
                &format!("registry:{}", REGISTRIES[i % REGISTRIES.len()]),
                "name",
                None,
            )
        })
        .collect();
    page(
        "registry:X sort name (filter correlates with sort)",
        registries,
    );
    page(
        "-registry:docker.io sort registry",
        same(image_query("-registry:docker.io", "registry", None)),
    );
    page(
        "-registry:docker.io sort -registry, random depth",
        cursors(&mut dice, "-registry:docker.io", "-registry", runs),
    );
    page(
        "image_tag:*-alpine sort -built_at",
        same(image_query("image_tag:*-alpine", "-built_at", None)),
    );
    page(
        "-env:dev,short_image:*-api* sort name (negation and wildcard)",
        same(image_query("-env:dev,short_image:*-api*", "name", None)),
    );
    page(
        "short_image:api* sort -published_at",
        same(image_query("short_image:api*", "-published_at", None)),
    );
    page(
        "vulnerability_count.critical:>0,size:>=100000000 sort -size",
        same(image_query(
            "vulnerability_count.critical:>0,size:>=100000000",
            "-size",
            None,
        )),
    );
    page(
        "size:>=270000000 sort size (few, at the end of the order)",
        same(image_query("size:>=270000000", "size", None)),
    );
    page(
        "container_count:(0 OR >30),-vulnerability_count.high:<10 sort name",
        same(image_query(
            "container_count:(0 OR >30),-vulnerability_count.high:<10",
            "name",
            None,
        )),
    );
    let some_id = index.record((n / 3) as u32).image_ids[0].clone();
    page(
        "image_id:<one id> (one match)",
        same(image_query(&format!("image_id:{some_id}"), "name", None)),
    );
    page(
        "env:(prod OR staging),cluster:eu-* sort repository, random depth",
        cursors(
            &mut dice,
            "env:(prod OR staging),cluster:eu-*",
            "repository",
            runs,
        ),
    );
    page(
        "-team:*,-service:* (the untagged tenth) sort -container_count",
        same(image_query("-team:*,-service:*", "-container_count", None)),
    );

    all_pages.sort();
    let at = |q: f64| quantile(&all_pages, q);
    println!(
        "all page queries: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    );

    println!("\ngroup_by queries (page size 100), {runs} runs each:");
    let mut all_groups: Vec<Duration> = Vec::new();
    let mut group = |label: &str, query: GroupQuery, runs: usize| {
        if !label.contains(only.as_str()) {
            return;
        }
        let times = measure(label, &vec![query; runs], |q| index.list_groups(q).total);
        all_groups.extend(times);
    };
    group("group_by registry", group_query("", "registry"), runs);
    group("group_by team,env", group_query("", "team,env"), runs);
    group(
        "group_by registry,os_architecture,team",
        group_query("", "registry,os_architecture,team"),
        runs,
    );
    group(
        "group_by short_image (about images/20 groups)",
        group_query("", "short_image"),
        runs,
    );
    group(
        "group_by team filter env:prod",
        group_query("env:prod", "team"),
        runs,
    );
    group(
        "group_by cluster,env filter vulnerability_count.critical:>0",
        group_query("vulnerability_count.critical:>0", "cluster,env"),
        runs,
    );
    group(
        "group_by image_tag (a group per tag value)",
        group_query("", "image_tag"),
        runs.min(10),
    );
    all_groups.sort();
    let at = |q: f64| quantile(&all_groups, q);
    println!(
        "all group queries: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    );
    println!(
        "heap after the queries (orders and forward maps built): {:.1} bytes per image",
        per_image(&index)
    );

    // One reference evaluation, for scale.
    let records: Vec<Arc<ImageRecord>> =
        (0..n as u32).map(|doc| index.record(doc).clone()).collect();
    let query = image_query(
        "team:payments,env:prod",
        "-vulnerability_count.critical",
        None,
    );
    let start = Instant::now();
    let reference = imagedex_query::list_images(&records, &query);
    println!(
        "\nreference engine, team:payments,env:prod sort -vulnerability_count.critical: {:.0} ms",
        ms(start.elapsed())
    );
    let answer = index.list_images(&query);
    assert_eq!(
        answer.next_cursor, reference.next_cursor,
        "the index should answer as the reference"
    );
}
