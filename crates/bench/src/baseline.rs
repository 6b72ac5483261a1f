//! The SQL baselines: the same records in one flat table, as a user without imagedex would
//! build it, in PostgreSQL and in SQLite, with the best indexes for the mix; each query of the
//! mix written as SQL returning the same page and the same total, checked equal to imagedex's.
//!
//! Times are the database's alone (the page statement, then the total statement, on one
//! connection with prepared statements); a service on top would add rendering and HTTP.

use crate::queries::{Answer, Case, Kind, Mix, BOTH_TAGS, EXCLUDED_TAG, SHORT_IMAGE_GLOB};
use crate::timing::{Budget, Latencies};
use anyhow::{Context, Result};
use imagedex_model::ImageRecord;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One baseline's figures.
#[derive(Debug, Clone)]
pub struct BaselineRun {
    /// The database and its settings, as the report describes them.
    pub setup: String,
    /// Loading the rows and building the indexes.
    pub load: Duration,
    /// One entry per query of the mix, in [`Case::ALL`] order.
    pub latencies: Vec<Latencies>,
}

/// The SQL dialects of the two baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Sqlite,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Text(String),
}

/// The two statements answering one query: the page, and the total the API also returns.
#[derive(Debug, Clone)]
struct Statements {
    kind: Kind,
    page: String,
    page_binds: Vec<Value>,
    total: String,
    total_binds: Vec<Value>,
}

/// The SQL of one query of the mix. Tag terms are the dialect's own: an array with a GIN
/// index in PostgreSQL, a table of (tag, image) in SQLite.
fn statements(case: Case, dialect: Dialect, mix: &Mix) -> Statements {
    let text = |s: &str| Value::Text(s.to_string());
    let by_name = ImageSql {
        filter: String::new(),
        filter_binds: Vec::new(),
        order: "name, id",
        after: None,
    };
    let images = match case {
        Case::FirstPage | Case::LargePage => by_name,
        Case::TwoTermsByCritical => ImageSql {
            filter: format!(" AND {}", has_tags(dialect, 2, BOTH_TAGS.len())),
            filter_binds: BOTH_TAGS.iter().map(|t| text(t)).collect(),
            order: "critical DESC NULLS LAST, id",
            after: None,
        },
        Case::NegationAndWildcard => ImageSql {
            filter: format!(
                " AND NOT ({}) AND short_image LIKE $3 ESCAPE '\\'",
                has_tags(dialect, 2, 1)
            ),
            filter_binds: vec![text(EXCLUDED_TAG), text(&like_pattern(SHORT_IMAGE_GLOB))],
            ..by_name
        },
        // Keyset pagination, after the last skipped image; the total is the organisation's.
        Case::DeepPage => ImageSql {
            after: Some([text(&mix.deep.after_name), text(&mix.deep.after_id)]),
            ..by_name
        },
        Case::GroupByShortImage | Case::GroupByRegistry => {
            let column = case
                .group_key()
                .expect("a group query should have a group key");
            return group_statements(column, case.page_size(), mix.org_id);
        }
    };
    images.statements(dialect, case.page_size(), mix.org_id)
}

/// An image query: a filter after `org_id = $1` with its values bound from `$2` on, an order,
/// and for keyset pagination the (name, id) the page starts after.
struct ImageSql {
    filter: String,
    filter_binds: Vec<Value>,
    order: &'static str,
    after: Option<[Value; 2]>,
}

impl ImageSql {
    fn statements(self, dialect: Dialect, limit: usize, org_id: i64) -> Statements {
        let body = match dialect {
            Dialect::Postgres => "body::text",
            Dialect::Sqlite => "body",
        };
        let filter = &self.filter;
        let mut total_binds = vec![Value::Int(org_id)];
        total_binds.extend(self.filter_binds);
        let total = format!("SELECT count(*) FROM images_flat WHERE org_id = $1{filter}");

        let mut page_binds = total_binds.clone();
        let mut keyset = String::new();
        if let Some(after) = self.after {
            let at = page_binds.len() + 1;
            keyset = format!(" AND (name, id) > (${at}, ${})", at + 1);
            page_binds.extend(after);
        }
        page_binds.push(Value::Int(limit as i64));
        let page = format!(
            "SELECT id, {body} FROM images_flat WHERE org_id = $1{filter}{keyset} \
             ORDER BY {} LIMIT ${}",
            self.order,
            page_binds.len()
        );
        Statements {
            kind: Kind::Images,
            page,
            page_binds,
            total,
            total_binds,
        }
    }
}

/// A group query on one column: groups without a value come last, then by count, largest
/// first, then by name; the total is the number of groups.
fn group_statements(column: &str, limit: usize, org_id: i64) -> Statements {
    Statements {
        kind: Kind::Groups,
        page: format!(
            "SELECT {column}, count(*) AS n FROM images_flat WHERE org_id = $1 \
             GROUP BY {column} ORDER BY {column} IS NULL, n DESC, {column} LIMIT $2"
        ),
        page_binds: vec![Value::Int(org_id), Value::Int(limit as i64)],
        total: format!(
            "SELECT count(*) FROM (SELECT {column} FROM images_flat WHERE org_id = $1 \
             GROUP BY {column}) AS g"
        ),
        total_binds: vec![Value::Int(org_id)],
    }
}

/// The condition "the image has all of `count` tags bound from `$first` on".
fn has_tags(dialect: Dialect, first: usize, count: usize) -> String {
    let placeholders: Vec<String> = (first..first + count).map(|i| format!("${i}")).collect();
    match dialect {
        Dialect::Postgres => {
            let array: Vec<String> = placeholders.iter().map(|p| format!("{p}::text")).collect();
            format!("tags @> ARRAY[{}]", array.join(", "))
        }
        Dialect::Sqlite => {
            let each: Vec<String> = placeholders
                .iter()
                .map(|p| format!("doc IN (SELECT image_rowid FROM image_tags WHERE tag = {p})"))
                .collect();
            format!("({})", each.join(" AND "))
        }
    }
}

/// A filter glob (`*` for any run of characters) as a `LIKE` pattern escaped with `\`.
fn like_pattern(glob: &str) -> String {
    let mut pattern = String::new();
    for c in glob.chars() {
        match c {
            '*' => pattern.push('%'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            _ => pattern.push(c),
        }
    }
    pattern
}

/// One image as a row of the flat table.
struct FlatRow<'a> {
    record: &'a ImageRecord,
    short_image: Option<&'a str>,
    registry: Option<&'a str>,
    size: Option<i64>,
    built_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every tag of the record as `key:value`, lowercase, as filters match them.
    tags: Vec<String>,
    body: String,
}

impl<'a> FlatRow<'a> {
    fn new(record: &'a ImageRecord) -> Self {
        FlatRow {
            record,
            // The tag values, as imagedex groups and filters them; single-valued here.
            short_image: record.tag_values("short_image").next(),
            registry: record.tag_values("registry").next(),
            size: record.largest_size(),
            built_at: record.latest_built_at(),
            tags: record.tags.iter().map(ToString::to_string).collect(),
            body: serde_json::to_string(record).expect("a record should serialise"),
        }
    }

    fn vulnerability(
        &self,
        pick: impl Fn(&imagedex_model::VulnerabilityCounts) -> i64,
    ) -> Option<i64> {
        self.record.vulnerabilities.as_ref().map(pick)
    }

    /// critical, high, medium, low, none, unknown.
    fn vulnerabilities(&self) -> [Option<i64>; 6] {
        [
            self.vulnerability(|v| v.critical),
            self.vulnerability(|v| v.high),
            self.vulnerability(|v| v.medium),
            self.vulnerability(|v| v.low),
            self.vulnerability(|v| v.none),
            self.vulnerability(|v| v.unknown),
        ]
    }
}

/// The flat table's columns, in load order.
const COLUMNS: &str = "org_id, id, name, short_image, registry, repository, container_count, \
                       size, published_at, built_at, critical, high, medium, low, none_, \
                       unknown";

/// Answers `statements` on a connection of either backend.
macro_rules! answer_fn {
    ($name:ident, $connection:ty) => {
        async fn $name(connection: &mut $connection, statements: &Statements) -> Result<Answer> {
            let mut page = sqlx::query(&statements.page);
            for value in &statements.page_binds {
                page = match value {
                    Value::Int(i) => page.bind(*i),
                    Value::Text(t) => page.bind(t.as_str()),
                };
            }
            let rows = page.fetch_all(&mut *connection).await?;

            let mut total = sqlx::query_scalar::<_, i64>(&statements.total);
            for value in &statements.total_binds {
                total = match value {
                    Value::Int(i) => total.bind(*i),
                    Value::Text(t) => total.bind(t.as_str()),
                };
            }
            let total = usize::try_from(total.fetch_one(&mut *connection).await?)?;

            Ok(match statements.kind {
                Kind::Images => {
                    let mut ids = Vec::with_capacity(rows.len());
                    for row in &rows {
                        // The body is what a service would render: read it as one would.
                        let body: &str = row.try_get(1)?;
                        std::hint::black_box(body);
                        ids.push(row.try_get::<String, _>(0)?);
                    }
                    Answer::Images { ids, total }
                }
                Kind::Groups => {
                    let mut groups = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let value: Option<String> = row.try_get(0)?;
                        let count: i64 = row.try_get(1)?;
                        groups.push((vec![value], usize::try_from(count)?));
                    }
                    Answer::Groups { groups, total }
                }
            })
        }
    };
}

answer_fn!(answer_postgres, PgConnection);
answer_fn!(answer_sqlite, SqliteConnection);

/// Loads the records into a fresh PostgreSQL database, answers and times the mix, and drops
/// the database whatever happened.
pub async fn run_postgres(
    admin_url: &str,
    records: &[Arc<ImageRecord>],
    mix: &Mix,
    expected: &[Answer],
    budget: Budget,
) -> Result<BaselineRun> {
    let admin = PgConnectOptions::from_str(admin_url).context("reading --postgres-url")?;
    let database = format!("imagedex_bench_{}", std::process::id());
    let mut control = admin
        .connect()
        .await
        .context("connecting to PostgreSQL (--postgres-url; --skip-postgres to skip)")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&mut control)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut control)
        .await
        .with_context(|| format!("creating the database {database}"))?;

    let outcome = postgres_in(
        admin.clone().database(&database),
        records,
        mix,
        expected,
        budget,
    )
    .await;

    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&mut control)
        .await
        .with_context(|| format!("dropping the database {database}"));
    let run = outcome?;
    dropped?;
    Ok(run)
}

async fn postgres_in(
    options: PgConnectOptions,
    records: &[Arc<ImageRecord>],
    mix: &Mix,
    expected: &[Answer],
    budget: Budget,
) -> Result<BaselineRun> {
    let mut connection = options.connect().await?;
    let started = Instant::now();
    load_postgres(&mut connection, records, mix.org_id).await?;
    let load = started.elapsed();

    // What a user can set without restarting the server: memory for sorts and hashes.
    sqlx::query("SET work_mem = '64MB'")
        .execute(&mut connection)
        .await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut connection)
        .await?;
    let shared_buffers: String = sqlx::query_scalar("SHOW shared_buffers")
        .fetch_one(&mut connection)
        .await?;
    let workers: String = sqlx::query_scalar("SHOW max_parallel_workers_per_gather")
        .fetch_one(&mut connection)
        .await?;

    let mut latencies = Vec::new();
    for (case, expected) in Case::ALL.into_iter().zip(expected) {
        eprintln!("  PostgreSQL: {}", case.label(mix));
        let statements = statements(case, Dialect::Postgres, mix);
        let got = answer_postgres(&mut connection, &statements).await?;
        expected.check(&got, "PostgreSQL", &case.label(mix))?;
        let mut timer = budget.timer();
        while timer.more() {
            let lap = Instant::now();
            answer_postgres(&mut connection, &statements).await?;
            timer.lap(lap);
        }
        latencies.push(timer.finish());
    }
    connection.close().await?;
    Ok(BaselineRun {
        setup: format!(
            "PostgreSQL {version}, shared_buffers {shared_buffers}, work_mem 64MB, \
             {workers} parallel workers per gather"
        ),
        load,
        latencies,
    })
}

async fn load_postgres(
    connection: &mut PgConnection,
    records: &[Arc<ImageRecord>],
    org_id: i64,
) -> Result<()> {
    // Text columns compare bytewise (collation C), as imagedex orders names and ids.
    sqlx::raw_sql(
        "CREATE TABLE images_flat (
             org_id          BIGINT NOT NULL,
             id              TEXT COLLATE \"C\" NOT NULL,
             name            TEXT COLLATE \"C\" NOT NULL,
             short_image     TEXT COLLATE \"C\",
             registry        TEXT COLLATE \"C\",
             repository      TEXT COLLATE \"C\" NOT NULL,
             container_count BIGINT NOT NULL,
             size            BIGINT,
             published_at    TIMESTAMPTZ,
             built_at        TIMESTAMPTZ,
             critical        BIGINT,
             high            BIGINT,
             medium          BIGINT,
             low             BIGINT,
             none_           BIGINT,
             unknown         BIGINT,
             tags            TEXT[] NOT NULL,
             body            JSON NOT NULL
         )",
    )
    .execute(&mut *connection)
    .await
    .context("creating the PostgreSQL table")?;

    let mut copy = connection
        .copy_in_raw(&format!(
            "COPY images_flat ({COLUMNS}, tags, body) FROM STDIN WITH (FORMAT csv)"
        ))
        .await?;
    let mut buffer = String::new();
    for record in records {
        let row = FlatRow::new(record);
        let r = row.record;
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
        let number = |n: Option<i64>| n.map(|n| n.to_string());
        let mut fields: Vec<Option<String>> = vec![
            Some(org_id.to_string()),
            Some(r.id.clone()),
            Some(r.name.clone()),
            row.short_image.map(str::to_string),
            row.registry.map(str::to_string),
            Some(r.repository.clone()),
            Some(r.container_count.to_string()),
            number(row.size),
            time(r.published_at),
            time(row.built_at),
        ];
        fields.extend(row.vulnerabilities().into_iter().map(number));
        fields.push(Some(postgres_array(&row.tags)));
        fields.push(Some(row.body.clone()));
        push_csv_line(&mut buffer, &fields);
        if buffer.len() > 1 << 20 {
            copy.send(buffer.as_bytes()).await?;
            buffer.clear();
        }
    }
    copy.send(buffer.as_bytes()).await?;
    copy.finish()
        .await
        .context("copying rows into PostgreSQL")?;

    sqlx::raw_sql(
        "ALTER TABLE images_flat ADD PRIMARY KEY (org_id, id);
         CREATE INDEX images_flat_name ON images_flat (org_id, name, id);
         CREATE INDEX images_flat_critical ON images_flat (org_id, critical DESC NULLS LAST, id);
         CREATE INDEX images_flat_short_image ON images_flat (org_id, short_image);
         CREATE INDEX images_flat_registry ON images_flat (org_id, registry);
         CREATE INDEX images_flat_tags ON images_flat USING gin (tags);
         CREATE EXTENSION IF NOT EXISTS pg_trgm;
         CREATE INDEX images_flat_short_image_trgm
             ON images_flat USING gin (short_image gin_trgm_ops);",
    )
    .execute(&mut *connection)
    .await
    .context("indexing the PostgreSQL table")?;
    // Statistics for the planner, and a visibility map so counts can be index-only scans.
    sqlx::raw_sql("VACUUM ANALYZE images_flat")
        .execute(&mut *connection)
        .await
        .context("vacuuming the PostgreSQL table")?;
    Ok(())
}

/// A PostgreSQL array literal of text values.
fn postgres_array(values: &[String]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// One CSV line: `None` is an unquoted empty field (NULL), any text is quoted.
fn push_csv_line(out: &mut String, fields: &[Option<String>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(text) = field {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        }
    }
    out.push('\n');
}

/// Loads the records into a fresh SQLite file, answers and times the mix, and removes the file.
pub async fn run_sqlite(
    path: &Path,
    records: &[Arc<ImageRecord>],
    mix: &Mix,
    expected: &[Answer],
    budget: Budget,
) -> Result<BaselineRun> {
    remove_sqlite(path)?;
    let outcome = sqlite_in(path, records, mix, expected, budget).await;
    remove_sqlite(path)?;
    outcome
}

fn remove_sqlite(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {file}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// SQLite's page cache for the baseline: generous, as a user tuning it would give.
const SQLITE_CACHE_KIB: i64 = 1 << 20;

async fn sqlite_in(
    path: &Path,
    records: &[Arc<ImageRecord>],
    mix: &Mix,
    expected: &[Answer],
    budget: Budget,
) -> Result<BaselineRun> {
    let mut connection = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Off)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
        .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        .connect()
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let started = Instant::now();
    load_sqlite(&mut connection, records, mix.org_id).await?;
    let load = started.elapsed();
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut connection)
        .await?;

    let mut latencies = Vec::new();
    for (case, expected) in Case::ALL.into_iter().zip(expected) {
        eprintln!("  SQLite: {}", case.label(mix));
        let statements = statements(case, Dialect::Sqlite, mix);
        let got = answer_sqlite(&mut connection, &statements).await?;
        expected.check(&got, "SQLite", &case.label(mix))?;
        let mut timer = budget.timer();
        while timer.more() {
            let lap = Instant::now();
            answer_sqlite(&mut connection, &statements).await?;
            timer.lap(lap);
        }
        latencies.push(timer.finish());
    }
    connection.close().await?;
    Ok(BaselineRun {
        setup: format!(
            "SQLite {version} (bundled), cache {} MiB, tags in a (tag, image) table",
            SQLITE_CACHE_KIB / 1024
        ),
        load,
        latencies,
    })
}

/// Rows per multi-row `INSERT` into the flat table (17 values each).
const SQLITE_IMAGE_ROWS: usize = 500;

/// Rows per multi-row `INSERT` into the tag table (2 values each).
const SQLITE_TAG_ROWS: usize = 5000;

async fn load_sqlite(
    connection: &mut SqliteConnection,
    records: &[Arc<ImageRecord>],
    org_id: i64,
) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE images_flat (
             doc             INTEGER PRIMARY KEY,
             org_id          INTEGER NOT NULL,
             id              TEXT NOT NULL,
             name            TEXT NOT NULL,
             short_image     TEXT,
             registry        TEXT,
             repository      TEXT NOT NULL,
             container_count INTEGER NOT NULL,
             size            INTEGER,
             published_at    INTEGER,
             built_at        INTEGER,
             critical        INTEGER,
             high            INTEGER,
             medium          INTEGER,
             low             INTEGER,
             none_           INTEGER,
             unknown         INTEGER,
             body            TEXT NOT NULL
         );
         CREATE TABLE image_tags (
             tag         TEXT NOT NULL,
             image_rowid INTEGER NOT NULL,
             PRIMARY KEY (tag, image_rowid)
         ) WITHOUT ROWID;",
    )
    .execute(&mut *connection)
    .await
    .context("creating the SQLite tables")?;

    let mut tx = connection.begin().await?;
    for (chunk_at, chunk) in records.chunks(SQLITE_IMAGE_ROWS).enumerate() {
        let rows: Vec<FlatRow> = chunk.iter().map(|r| FlatRow::new(r)).collect();
        let first_doc = (chunk_at * SQLITE_IMAGE_ROWS) as i64;

        let mut insert: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO images_flat (doc, {COLUMNS}, body) "));
        insert.push_values(rows.iter().enumerate(), |mut b, (i, row)| {
            let r = row.record;
            b.push_bind(first_doc + i as i64)
                .push_bind(org_id)
                .push_bind(r.id.as_str())
                .push_bind(r.name.as_str())
                .push_bind(row.short_image)
                .push_bind(row.registry)
                .push_bind(r.repository.as_str())
                .push_bind(r.container_count)
                .push_bind(row.size)
                .push_bind(r.published_at.map(|t| t.timestamp()))
                .push_bind(row.built_at.map(|t| t.timestamp()));
            for count in row.vulnerabilities() {
                b.push_bind(count);
            }
            b.push_bind(row.body.as_str());
        });
        insert.build().execute(&mut *tx).await?;

        let tags: Vec<(i64, &str)> = rows
            .iter()
            .enumerate()
            .flat_map(|(i, row)| {
                row.tags
                    .iter()
                    .map(move |t| (first_doc + i as i64, t.as_str()))
            })
            .collect();
        for tags in tags.chunks(SQLITE_TAG_ROWS) {
            let mut insert: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO image_tags (image_rowid, tag) ");
            insert.push_values(tags, |mut b, (doc, tag)| {
                b.push_bind(*doc).push_bind(*tag);
            });
            insert.build().execute(&mut *tx).await?;
        }
    }
    tx.commit().await.context("loading rows into SQLite")?;

    sqlx::raw_sql(
        "CREATE UNIQUE INDEX images_flat_id ON images_flat (org_id, id);
         CREATE INDEX images_flat_name ON images_flat (org_id, name, id);
         CREATE INDEX images_flat_critical ON images_flat (org_id, critical DESC, id);
         CREATE INDEX images_flat_short_image ON images_flat (org_id, short_image);
         CREATE INDEX images_flat_registry ON images_flat (org_id, registry);
         ANALYZE;",
    )
    .execute(&mut *connection)
    .await
    .context("indexing the SQLite tables")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_bind_order() {
        let mix = Mix {
            org_id: 7,
            scope: "7".into(),
            deep: crate::queries::DeepPage {
                skipped: 10,
                cursor: String::new(),
                after_name: "n".into(),
                after_id: "i".into(),
            },
        };
        let deep = statements(Case::DeepPage, Dialect::Sqlite, &mix);
        assert!(
            deep.page.contains("AND (name, id) > ($2, $3)"),
            "{}",
            deep.page
        );
        assert!(deep.page.ends_with("LIMIT $4"), "{}", deep.page);
        assert_eq!((deep.page_binds.len(), deep.total_binds.len()), (4, 1));

        let two = statements(Case::TwoTermsByCritical, Dialect::Postgres, &mix);
        assert!(two.page.contains("tags @> ARRAY[$2::text, $3::text]"));
        assert!(two.page.ends_with("LIMIT $4"), "{}", two.page);
        assert_eq!((two.page_binds.len(), two.total_binds.len()), (4, 3));
    }

    #[test]
    fn globs_become_escaped_like_patterns() {
        assert_eq!(like_pattern("*-api"), "%-api");
        assert_eq!(like_pattern("a_b%c*"), "a\\_b\\%c%");
    }

    #[test]
    fn csv_quotes_text_and_leaves_null_empty() {
        let mut line = String::new();
        push_csv_line(&mut line, &[Some("a\"b".into()), None, Some(String::new())]);
        assert_eq!(line, "\"a\"\"b\",,\"\"\n");
        assert_eq!(
            postgres_array(&["env:prod".into(), "x\"y\\z".into()]),
            "{\"env:prod\",\"x\\\"y\\\\z\"}"
        );
    }
}
