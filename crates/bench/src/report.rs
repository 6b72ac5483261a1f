//! The report: one table of p50/p99 per query and system with the PostgreSQL/HTTP ratio, then
//! the pre-rendered comparison, the load test, memory and build lines, on a named machine.

use crate::baseline::BaselineRun;
use crate::engine::BuildReport;
use crate::http::HttpRun;
use crate::queries::{thousands, Case, Mix};
use crate::timing::{Latencies, MAX_TIME_PER_QUERY};
use std::fmt::Write;
use std::time::Duration;

/// The machine the figures were taken on.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_bytes: Option<u64>,
    /// The 1-minute load average when the run started: other work sharing the cores.
    pub load_average: Option<String>,
}

impl Machine {
    /// Reads the CPU model and memory from `/proc`, the cores from the OS.
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or_else(|| "unknown CPU".to_string(), |(_, m)| m.trim().to_string());
        let memory_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        });
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string));
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes,
            load_average,
        }
    }

    fn describe(&self) -> String {
        let memory = self.memory_bytes.map_or_else(String::new, |b| {
            format!(", {:.1} GiB", b as f64 / (1u64 << 30) as f64)
        });
        let load = self
            .load_average
            .as_ref()
            .map_or_else(String::new, |l| format!(", load average {l} at the start"));
        format!("{}, {} cores{memory}{load}", self.cpu, self.cores)
    }
}

/// The dataset, as the report's heading describes it.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    pub images: u64,
    pub seed: u64,
    pub observations: u64,
    pub org: String,
}

/// Everything one run measured; systems that were skipped are `None`.
pub struct Report<'a> {
    pub machine: &'a Machine,
    pub dataset: &'a DatasetInfo,
    pub mix: &'a Mix,
    pub max_reps: usize,
    pub build: &'a BuildReport,
    pub engine: &'a [Latencies],
    pub http: &'a HttpRun,
    pub sqlite: Option<&'a BaselineRun>,
    pub postgres: Option<&'a BaselineRun>,
}

impl Report<'_> {
    /// The report as printed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let d = self.dataset;
        let _ = writeln!(
            out,
            "imagedex-bench: {} images (seed {}, {} observations, organisation '{}') on {}",
            thousands(d.images),
            d.seed,
            thousands(d.observations),
            d.org,
            self.machine.describe()
        );
        let _ = writeln!(
            out,
            "p50 / p99 of up to {} repetitions per query and system (at most {} s each), after \
             one untimed run whose answer is checked against the engine's",
            self.max_reps,
            MAX_TIME_PER_QUERY.as_secs()
        );
        out.push('\n');
        out.push_str(&self.table());
        out.push('\n');
        self.lines(&mut out);
        out
    }

    fn table(&self) -> String {
        let skipped = || "skipped".to_string();
        let mut rows: Vec<[String; 6]> = vec![[
            "query".into(),
            "engine p50 / p99".into(),
            "HTTP p50 / p99".into(),
            "SQLite p50 / p99".into(),
            "PostgreSQL p50 / p99".into(),
            "PG / HTTP p50 / p99".into(),
        ]];
        for (i, case) in Case::ALL.into_iter().enumerate() {
            let http = &self.http.latencies[i];
            let baseline = |run: Option<&BaselineRun>| run.map(|r| r.latencies[i].clone());
            let (sqlite, postgres) = (baseline(self.sqlite), baseline(self.postgres));
            rows.push([
                case.label(self.mix),
                pair(&self.engine[i]),
                pair(http),
                sqlite.as_ref().map_or_else(skipped, pair),
                postgres.as_ref().map_or_else(skipped, pair),
                postgres.as_ref().map_or_else(skipped, |pg| {
                    format!(
                        "{} / {}",
                        ratio(pg.p50(), http.p50()),
                        ratio(pg.p99(), http.p99())
                    )
                }),
            ]);
        }
        let widths: Vec<usize> = (0..6)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (n, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| {
                    if c == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join(" | ").trim_end());
            if n == 0 {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                let _ = writeln!(out, "{}", rule.join("-|-"));
            }
        }
        out
    }

    fn lines(&self, out: &mut String) {
        let large = Case::ALL
            .iter()
            .position(|c| *c == Case::LargePage)
            .expect("the mix should have the large page");
        let http = &self.http.latencies[large];
        let pre = &self.http.prerendered;
        let _ = writeln!(
            out,
            "page[size]=10000 ({:.1} MiB): HTTP {} vs the same bytes pre-rendered {}: {} / {}",
            self.http.large_page_bytes as f64 / (1u64 << 20) as f64,
            pair(http),
            pair(pre),
            ratio(http.p50(), pre.p50()),
            ratio(http.p99(), pre.p99()),
        );

        match &self.http.load {
            Some(w) => {
                let command = format!("wrk -t{} -c{} -d{}s", w.threads, w.connections, w.seconds);
                let outcome = if w.requests == 0 {
                    format!(
                        "no request completed within {} s ({} at once)",
                        w.seconds, w.connections
                    )
                } else {
                    format!(
                        "{:.0} requests/s, p50 {}, p99 {}",
                        w.requests_per_second,
                        duration(w.p50),
                        duration(w.p99)
                    )
                };
                let _ = writeln!(
                    out,
                    "{command}, first page: {outcome}, {} errors (wrk shares the {} cores with \
                     the server)",
                    w.errors, self.machine.cores
                );
            }
            None => out.push_str("wrk: skipped\n"),
        }

        let b = self.build;
        let per_image = |bytes: u64| bytes as f64 / b.images.max(1) as f64;
        let per_million = |d: Duration| d.as_secs_f64() * 1e6 / b.images.max(1) as f64;
        let rss = |bytes: Option<u64>| {
            bytes.map_or_else(
                || "RSS unknown".to_string(),
                |v| format!("RSS +{:.0} B/image", per_image(v)),
            )
        };
        let _ = writeln!(
            out,
            "records: {:.0} B/image of heap (counted), {}; loaded from the store in {:.2} s per \
             million",
            per_image(b.records_heap as u64),
            rss(b.records_rss),
            per_million(b.load)
        );
        let _ = writeln!(
            out,
            "query structure ({}): {:.0} B/image of heap (as it reports), {}; built in {:.3} s \
             per million",
            b.engine,
            per_image(b.engine_heap as u64),
            rss(b.engine_rss),
            per_million(b.build)
        );
        for (name, run) in [("SQLite", self.sqlite), ("PostgreSQL", self.postgres)] {
            if let Some(run) = run {
                let _ = writeln!(
                    out,
                    "{name}: {}; loaded and indexed in {:.1} s; times are the database's alone \
                     (page + total statements, one connection)",
                    run.setup,
                    run.load.as_secs_f64()
                );
            }
        }
    }
}

/// `p50 / p99`.
fn pair(latencies: &Latencies) -> String {
    format!(
        "{} / {}",
        duration(latencies.p50()),
        duration(latencies.p99())
    )
}

/// A ratio of two durations, as `12.3x`.
fn ratio(numerator: Duration, denominator: Duration) -> String {
    let r = numerator.as_secs_f64() / denominator.as_secs_f64().max(1e-9);
    if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.2}x")
    }
}

/// A duration with three significant figures: `812 µs`, `4.21 ms`, `1.02 s`.
fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    let (value, unit) = if micros < 1_000.0 {
        (micros, "µs")
    } else if micros < 1_000_000.0 {
        (micros / 1e3, "ms")
    } else {
        (micros / 1e6, "s")
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_figures() {
        assert_eq!(duration(Duration::from_micros(812)), "812 µs");
        assert_eq!(duration(Duration::from_micros(4_210)), "4.21 ms");
        assert_eq!(duration(Duration::from_micros(42_100)), "42.1 ms");
        assert_eq!(duration(Duration::from_millis(1_020)), "1.02 s");
        assert_eq!(
            ratio(Duration::from_millis(30), Duration::from_millis(2)),
            "15x"
        );
        assert_eq!(
            ratio(Duration::from_millis(3), Duration::from_millis(2)),
            "1.50x"
        );
    }
}
