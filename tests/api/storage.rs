//! The storage suite: one set of behaviours, run against every backend. SQLite always runs;
//! PostgreSQL runs when `IMAGEDEX_TEST_POSTGRES_URL` names a server whose user may create
//! databases (each test gets its own database, dropped at the end).

use crate::support::{fixture_files, TestDatabase};
use imagedex_ingest::parse_report;
use imagedex_model::Observation;
use imagedex_store::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;

/// Runs `check` against each backend, naming the backend in any failure.
async fn each_backend<F, Fut>(test: &str, check: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = imagedex_store::open(&dir.path().join("suite.db").display().to_string())
        .await
        .unwrap();
    check(sqlite).await;

    let Some(database) = TestDatabase::create(&format!("{test} (PostgreSQL half)")).await else {
        return;
    };
    let postgres = imagedex_store::open(&database.url).await.unwrap();
    check(postgres).await;
    database.drop_database().await;
}

fn fixture_observations() -> Vec<Vec<Observation>> {
    fixture_files()
        .iter()
        .map(|f| parse_report(&std::fs::read(f).unwrap(), &[]).unwrap())
        .collect()
}

#[tokio::test]
async fn organisations_and_keys() {
    each_backend("organisations_and_keys", |store| async move {
        let a = store.create_org("acme").await.unwrap();
        assert!(matches!(
            store.create_org("acme").await,
            Err(StoreError::OrgExists(_))
        ));
        assert!(matches!(
            store.create_org("Bad Name").await,
            Err(StoreError::InvalidOrgName(_))
        ));
        assert_eq!(store.ensure_org("acme").await.unwrap(), a);
        let b = store.ensure_org("beta").await.unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(store.find_org("nosuch").await.unwrap(), None);
        assert_eq!(store.list_orgs().await.unwrap(), vec![a.clone(), b.clone()]);

        let ka = store.create_key_pair(a.id).await.unwrap();
        let kb = store.create_key_pair(b.id).await.unwrap();
        assert_eq!(
            store.authenticate(&ka.api_key, &ka.app_key).await.unwrap(),
            Some(a.id)
        );
        assert_eq!(
            store.authenticate(&kb.api_key, &kb.app_key).await.unwrap(),
            Some(b.id)
        );
        assert_eq!(
            store.authenticate(&ka.api_key, &kb.app_key).await.unwrap(),
            None,
            "mismatched"
        );
        assert_eq!(
            store.authenticate(&ka.app_key, &ka.api_key).await.unwrap(),
            None,
            "swapped"
        );
        assert_eq!(store.authenticate("", "").await.unwrap(), None);
        assert_eq!(
            store.authenticate_api_key(&kb.api_key).await.unwrap(),
            Some(b.id)
        );
        assert_eq!(
            store.authenticate_api_key(&kb.app_key).await.unwrap(),
            None,
            "an application key is not an API key"
        );
        assert_eq!(store.authenticate_api_key("").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn observations_become_records_and_changes() {
    each_backend(
        "observations_become_records_and_changes",
        |store| async move {
            let org = store.ensure_org("default").await.unwrap();
            let other = store.ensure_org("other").await.unwrap();
            assert_eq!(store.change_seq(org.id).await.unwrap(), 0);

            let mut created = 0;
            for observations in fixture_observations() {
                created += store
                    .apply_observations(org.id, &observations)
                    .await
                    .unwrap()
                    .images_created;
            }
            assert_eq!(created, 10);
            let seq = store.change_seq(org.id).await.unwrap();
            assert!(seq > 0);

            for observations in fixture_observations() {
                assert_eq!(
                    store
                        .apply_observations(org.id, &observations)
                        .await
                        .unwrap(),
                    Default::default()
                );
            }
            assert_eq!(
                store.change_seq(org.id).await.unwrap(),
                seq,
                "re-applying changes nothing"
            );

            let (loaded_seq, records) = store.load_images(org.id).await.unwrap();
            assert_eq!((loaded_seq, records.len()), (seq, 10));
            assert!(
                records.windows(2).all(|w| w[0].id < w[1].id),
                "ordered by id"
            );
            let feed = store.changes_since(org.id, 0).await.unwrap();
            assert_eq!(
                (feed.seq, feed.upserted.len(), feed.removed.len()),
                (seq, 10, 0)
            );
            assert_eq!(feed.upserted, records);

            // Folding: the same image id, now with a repo digest, replaces the image-id record.
            let mut linked = fixture_observations().remove(4); // centos-7, no repo digest
            let old_id = format!(
                "{}@{}",
                linked[0].name,
                linked[0].image_id.as_deref().unwrap()
            );
            let digest = format!("sha256:{}", "c".repeat(64));
            linked[0].repo_digest = Some(digest.clone());
            let outcome = store.apply_observations(org.id, &linked).await.unwrap();
            assert_eq!((outcome.images_created, outcome.images_removed), (1, 1));
            let feed = store.changes_since(org.id, seq).await.unwrap();
            assert_eq!(feed.removed, vec![old_id]);
            assert_eq!(feed.upserted.len(), 1);
            assert_eq!(
                feed.upserted[0].repo_digest.as_deref(),
                Some(digest.as_str())
            );
            assert_eq!(store.load_images(org.id).await.unwrap().1.len(), 10);

            // Nothing of this is visible to another organisation.
            assert_eq!(store.change_seq(other.id).await.unwrap(), 0);
            assert!(store.load_images(other.id).await.unwrap().1.is_empty());
            assert!(store
                .changes_since(other.id, 0)
                .await
                .unwrap()
                .upserted
                .is_empty());
        },
    )
    .await;
}

#[tokio::test]
async fn concurrent_writers_leave_a_consistent_feed() {
    each_backend(
        "concurrent_writers_leave_a_consistent_feed",
        |store| async move {
            let org = store.ensure_org("default").await.unwrap();
            let tasks: Vec<_> = fixture_observations()
                .into_iter()
                .map(|observations| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .apply_observations(org.id, &observations)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let (seq, records) = store.load_images(org.id).await.unwrap();
            let feed = store.changes_since(org.id, 0).await.unwrap();
            assert_eq!(records.len(), 10);
            assert_eq!(feed.seq, seq);
            let mut replayed = feed.upserted;
            replayed.sort_by(|a, b| a.id.cmp(&b.id));
            assert_eq!(
                replayed, records,
                "replaying the feed gives the stored records"
            );
        },
    )
    .await;
}

/// A SQLite database written before observations carried their identity refs (schema 0001)
/// is upgraded in place: its observations are found again, so re-applying them is a no-op.
#[tokio::test]
async fn sqlite_upgrade_backfills_identity_refs() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/store/migrations/sqlite");
    let mut first = sqlx::migrate::Migrator::new(migrations).await.unwrap();
    first.migrations = first.migrations[..1].to_vec().into();
    first.run(&pool).await.unwrap();

    let observations: Vec<Observation> = fixture_observations().concat();
    sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES (1, 'acme', '2026-01-01')")
        .execute(&pool)
        .await
        .unwrap();
    for obs in &observations {
        sqlx::query(
            "INSERT INTO observations (org_id, obs_key, name, body, updated_at) \
             VALUES (1, $1, $2, $3, '2026-01-01')",
        )
        .bind(obs.key())
        .bind(obs.name.to_string())
        .bind(serde_json::to_string(obs).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = imagedex_store::open(&path.display().to_string())
        .await
        .unwrap();
    let org = store.find_org("acme").await.unwrap().unwrap();
    let outcome = store
        .apply_observations(org.id, &observations)
        .await
        .unwrap();
    assert_eq!(outcome.observations_changed, 0, "{outcome:?}");
}
