//! imagedex's query evaluation alone, without HTTP: the [`QueryEngine`] seam, the build of its
//! structure with the memory it takes, and the mix timed as `ListQuery::parse` plus evaluation.

use crate::queries::{Answer, Case, DeepPage, Mix};
use crate::timing::{Budget, Latencies};
use anyhow::{bail, Context, Result};
use imagedex_model::{Flavor, ImageRecord, Tag};
use imagedex_query::{
    Bucket, GroupPage, GroupQuery, ImagePage, ImageQuery, ImageSortField, ListParams, ListQuery,
    LiveIndex,
};
use std::mem::size_of;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What answers list and group queries over one organisation's records: today the reference
/// scan, tomorrow `imagedex_query::index::Index`, whose methods have these signatures.
pub trait QueryEngine {
    /// One page of the images that match `query`.
    fn list_images(&self, query: &ImageQuery) -> ImagePage<'_>;
    /// One page of the groups of the images that match `query`.
    fn list_groups(&self, query: &GroupQuery) -> GroupPage;
    /// The heap the structure holds beyond the records it points to.
    fn heap_bytes(&self) -> usize;
    /// The structure's name in the report.
    fn name(&self) -> &'static str;
}

/// Builds the structure the bench measures: the server's index, with the orders of the mix's
/// sort fields built, so that the build time includes them; with `reference`, the scan of the
/// reference engine instead.
pub fn build(records: Vec<Arc<ImageRecord>>, reference: bool) -> Box<dyn QueryEngine> {
    if reference {
        return Box::new(Scan { records });
    }
    let index = LiveIndex::new(records);
    index.prepare_sort(ImageSortField::Vulnerabilities(Bucket::Critical));
    Box::new(index)
}

/// What the server answers with: the index, here without writes on top.
impl QueryEngine for LiveIndex {
    fn list_images(&self, query: &ImageQuery) -> ImagePage<'_> {
        LiveIndex::list_images(self, query)
    }

    fn list_groups(&self, query: &GroupQuery) -> GroupPage {
        LiveIndex::list_groups(self, query)
    }

    fn heap_bytes(&self) -> usize {
        LiveIndex::heap_bytes(self)
    }

    fn name(&self) -> &'static str {
        "index (LiveIndex)"
    }
}

/// The reference evaluation: every query filters and sorts all the records.
pub struct Scan {
    records: Vec<Arc<ImageRecord>>,
}

impl QueryEngine for Scan {
    fn list_images(&self, query: &ImageQuery) -> ImagePage<'_> {
        imagedex_query::list_images(&self.records, query)
    }

    fn list_groups(&self, query: &GroupQuery) -> GroupPage {
        imagedex_query::list_groups(&self.records, query)
    }

    fn heap_bytes(&self) -> usize {
        self.records.capacity() * size_of::<Arc<ImageRecord>>()
    }

    fn name(&self) -> &'static str {
        "reference scan"
    }
}

/// What loading the records and building the engine took.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The query structure's name.
    pub engine: &'static str,
    pub images: usize,
    /// Reading and decoding the records from the store.
    pub load: Duration,
    /// Building the query structure from the loaded records.
    pub build: Duration,
    /// The records' heap, counted field by field.
    pub records_heap: usize,
    /// Resident memory growth while loading the records (allocator slack included).
    pub records_rss: Option<u64>,
    /// The query structure's heap, as it reports it.
    pub engine_heap: usize,
    /// Resident memory growth while building the query structure.
    pub engine_rss: Option<u64>,
}

/// Builds the engine over the loaded `records`, measuring the build and the memory of both;
/// `rss_before_load` was read before the records were.
pub fn build_measured(
    records: &[Arc<ImageRecord>],
    load: Duration,
    rss_before_load: Option<u64>,
    reference: bool,
) -> (Box<dyn QueryEngine>, BuildReport) {
    let images = records.len();
    let records_heap = records.iter().map(|r| record_heap_bytes(r)).sum();
    let rss_records = rss_bytes();

    // The engine gets its own list of the shared records, as the server's snapshot would.
    let started = Instant::now();
    let engine = build(records.to_vec(), reference);
    let build = started.elapsed();
    let rss_engine = rss_bytes();

    let report = BuildReport {
        engine: engine.name(),
        images,
        load,
        build,
        records_heap,
        records_rss: growth(rss_before_load, rss_records),
        engine_heap: engine.heap_bytes(),
        engine_rss: growth(rss_records, rss_engine),
    };
    (engine, report)
}

fn growth(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

/// The process's resident memory, from `/proc/self/status`; `None` off Linux.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses the query's parameters, as the server does, and evaluates them.
pub fn answer(engine: &dyn QueryEngine, params: &ListParams, scope: &str) -> Result<Answer> {
    let query = ListQuery::parse(params, scope).context("parsing a query of the mix")?;
    Ok(match &query {
        ListQuery::Images(q) => {
            let page = engine.list_images(q);
            Answer::Images {
                ids: page.items.iter().map(|r| r.id.clone()).collect(),
                total: page.total,
            }
        }
        ListQuery::Groups(q) => {
            let page = engine.list_groups(q);
            Answer::Groups {
                groups: page
                    .groups
                    .into_iter()
                    .map(|g| (g.terms.into_iter().map(|(_, v)| v).collect(), g.count))
                    .collect(),
                total: page.total,
            }
        }
    })
}

/// Finds where the deep page starts: the cursor imagedex issues after the first `skipped`
/// images by name, asked for in one page (the API caps pages at 10,000; the engine does not),
/// which is the cursor a client walking 10,000 at a time would hold there.
pub fn deep_page(engine: &dyn QueryEngine, scope: &str, skipped: usize) -> Result<DeepPage> {
    let params = ListParams::default();
    let ListQuery::Images(mut query) = ListQuery::parse(&params, scope)? else {
        bail!("a query without group_by should list images");
    };
    query.page_size = skipped.max(1);
    let page = engine.list_images(&query);
    let (Some(last), Some(cursor)) = (page.items.last(), page.next_cursor) else {
        bail!("the dataset has too few images for a deep page after {skipped}");
    };
    Ok(DeepPage {
        skipped,
        cursor,
        after_name: last.name.clone(),
        after_id: last.id.clone(),
    })
}

/// Answers and times every query of the mix.
pub fn time_mix(
    engine: &dyn QueryEngine,
    mix: &Mix,
    budget: Budget,
) -> Result<Vec<(Answer, Latencies)>> {
    let mut results = Vec::new();
    for case in Case::ALL {
        eprintln!("  engine: {}", case.label(mix));
        let params = case.params(mix);
        let expected = answer(engine, &params, &mix.scope)?;
        let latencies = budget.time(|| {
            let query = ListQuery::parse(&params, &mix.scope)?;
            match &query {
                ListQuery::Images(q) => drop(std::hint::black_box(engine.list_images(q))),
                ListQuery::Groups(q) => drop(std::hint::black_box(engine.list_groups(q))),
            }
            Ok(())
        })?;
        results.push((expected, latencies));
    }
    Ok(results)
}

/// The heap one record holds, its `Arc` included: what loading an organisation costs before
/// any query structure.
fn record_heap_bytes(record: &ImageRecord) -> usize {
    let text = |s: &String| s.capacity();
    let maybe = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
    let texts =
        |v: &Vec<String>| v.capacity() * size_of::<String>() + v.iter().map(text).sum::<usize>();
    let tags = |v: &Vec<Tag>| {
        v.capacity() * size_of::<Tag>()
            + v.iter()
                .map(|t| t.key().len() + t.value().len())
                .sum::<usize>()
    };
    let flavors = record.flavors.capacity() * size_of::<Flavor>()
        + record
            .flavors
            .iter()
            .map(|f| text(&f.os_name) + text(&f.os_architecture) + maybe(&f.os_version))
            .sum::<usize>();

    // An Arc's allocation: two counters and the record.
    2 * size_of::<usize>()
        + size_of::<ImageRecord>()
        + text(&record.id)
        + text(&record.name)
        + maybe(&record.registry)
        + text(&record.repository)
        + text(&record.short_image)
        + maybe(&record.repo_digest)
        + texts(&record.image_ids)
        + texts(&record.image_tags)
        + texts(&record.sources)
        + flavors
        + tags(&record.custom_tags)
        + tags(&record.tags)
}
