//! The `JobStore` contract, tested the same way against every store: in memory, SQLite and
//! PostgreSQL (when `EASEL_TEST_DATABASE_URL` names a cluster; `.ci/run` starts one). Every
//! filter, keyset paging, the store's view of changes, the facets, leases, idempotency keys
//! and imports. The in-memory store is the reference the SQL must match.

use std::sync::Arc;

use serde_json::json;

use super::store::{Inserted, JobFilter, JobStore, MemoryStore};
use super::{Job, JobStatus, SqliteStore};

fn job(i: u64) -> Job {
    let (backend, model, workflow) = match i % 3 {
        0 => ("modelscope", Some("Qwen/Qwen-Image"), None),
        1 => ("modelscope", Some("FLUX"), None),
        _ => ("comfyui", None, Some("txt2img")),
    };
    let status = ["succeeded", "failed", "running", "cancelled"][(i % 4) as usize];
    let key = match i % 5 {
        0 => Some(format!("batch:autumn:{i}:00ff")),
        1 => Some(format!("batch:a:b:{i}:0123abcd")),
        2 => Some(format!("own-key-{i}")),
        _ => None,
    };
    let prompt = match i % 6 {
        0 => format!("Ein GROẞER Kater {i}"),
        1 => format!("100% pure_cat {i}"),
        _ => format!("a dog {i}"),
    };
    serde_json::from_value(json!({
        "id": format!("{:04}", (i * 37) % 100), "backend": backend,
        "request": {"prompt": prompt, "model": model, "workflow": workflow,
                    "size": {"width": 64, "height": 64}, "seed": i, "count": 1},
        "output": {"dir": null, "stem": null, "format": "original"},
        "status": status, "progress": {"fraction": 0.0, "message": ""},
        "ticket": null, "images": [], "failures": [], "error": null,
        "idempotency_key": key, "created_at_ms": 1000 + (i / 3) * 10,
        "updated_at_ms": 5000 + i, "finished_at_ms": null
    }))
    .expect("job")
}

/// The stores under test, by name.
type Stores = Vec<(&'static str, Arc<dyn JobStore>)>;

/// Where a shared store lives; each `open` is another handle on it, as another easel
/// process (or replica) would have.
pub(super) enum Home {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Home {
    /// SQLite always; PostgreSQL when a test cluster is configured.
    pub(super) fn all() -> Vec<Home> {
        let mut homes = vec![Home::Sqlite(tempfile::tempdir().expect("dir"))];
        homes.extend(super::pg_test_database().map(Home::Postgres));
        homes
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Home::Sqlite(_) => "sqlite",
            Home::Postgres(_) => "postgres",
        }
    }

    pub(super) fn open(&self) -> Arc<dyn JobStore> {
        match self {
            Home::Sqlite(dir) => {
                Arc::new(SqliteStore::open(&dir.path().join("jobs.db")).expect("open"))
            }
            Home::Postgres(url) => Arc::new(super::PgStore::open(url).expect("open")),
        }
    }
}

/// One handle on every store, the in-memory one first (the reference).
pub(super) fn every_store() -> (Vec<Home>, Stores) {
    let homes = Home::all();
    let mut list: Stores = vec![("memory", Arc::new(MemoryStore::default()))];
    list.extend(homes.iter().map(|h| (h.name(), h.open())));
    (homes, list)
}

fn stores() -> (Vec<Home>, Stores) {
    let (homes, list) = every_store();
    for (_, s) in &list {
        for i in 0..100 {
            s.put(&job(i)).expect("put");
        }
    }
    (homes, list)
}

fn ids(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

/// Every page of `filter`, by keyset.
fn all_pages(store: &dyn JobStore, filter: &JobFilter, size: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut f = JobFilter {
        limit: size,
        ..filter.clone()
    };
    loop {
        let page = store.list(&f).expect("list");
        out.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() == size => {
                f.before = Some((last.created_at_ms, last.id.clone()));
            }
            _ => return out,
        }
    }
}

#[test]
fn every_store_filters_and_pages_alike() {
    let (_dir, stores) = stores();
    let all: Vec<Job> = (0..100).map(job).collect();
    let cases: Vec<(&str, JobFilter)> = vec![
        ("all", JobFilter::default()),
        (
            "status",
            JobFilter {
                status: Some(JobStatus::Failed),
                ..JobFilter::default()
            },
        ),
        (
            "statuses",
            JobFilter {
                statuses: vec![JobStatus::Running, JobStatus::Cancelled],
                ..JobFilter::default()
            },
        ),
        (
            "backend",
            JobFilter {
                backend: Some("comfyui".into()),
                ..JobFilter::default()
            },
        ),
        (
            "model",
            JobFilter {
                model: Some("FLUX".into()),
                ..JobFilter::default()
            },
        ),
        (
            "workflow as model",
            JobFilter {
                model: Some("txt2img".into()),
                ..JobFilter::default()
            },
        ),
        (
            "batch with a colon",
            JobFilter {
                batch: Some("a:b".into()),
                ..JobFilter::default()
            },
        ),
        (
            "text, unicode case",
            JobFilter {
                text: Some("großer KATER".into()),
                ..JobFilter::default()
            },
        ),
        (
            "text with wildcards",
            JobFilter {
                text: Some("0% pure_".into()),
                ..JobFilter::default()
            },
        ),
        (
            "a lone wildcard",
            JobFilter {
                text: Some("%".into()),
                ..JobFilter::default()
            },
        ),
        (
            "range",
            JobFilter {
                since_ms: 1050,
                until_ms: Some(1200),
                ..JobFilter::default()
            },
        ),
        (
            "together",
            JobFilter {
                backend: Some("modelscope".into()),
                statuses: vec![JobStatus::Succeeded, JobStatus::Failed],
                batch: Some("autumn".into()),
                ..JobFilter::default()
            },
        ),
    ];
    for (name, filter) in &cases {
        let mut want: Vec<&Job> = all.iter().filter(|j| filter.matches(j)).collect();
        want.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
        let want: Vec<String> = want.iter().map(|j| j.id.clone()).collect();
        assert!(
            !want.is_empty() || *name == "a lone wildcard",
            "{name} selects something"
        );
        for (store_name, store) in &stores {
            let got = all_pages(store.as_ref(), filter, 7);
            assert_eq!(got, want, "{name} in {store_name}");
        }
    }
    // Spot checks that the reference itself means what it says.
    let text = |t: &str| {
        all.iter()
            .filter(|j| {
                JobFilter {
                    text: Some(t.into()),
                    ..JobFilter::default()
                }
                .matches(j)
            })
            .count()
    };
    assert_eq!(text("großer kater"), 17);
    assert_eq!(text("%"), 17);
    assert_eq!(text("_"), 17);
}

#[test]
fn every_store_reports_changes_in_update_order() {
    let (_dir, stores) = stores();
    for (name, store) in &stores {
        let changed = store.changed_since(5090, 5).expect("changed");
        let times: Vec<u64> = changed.iter().map(|j| j.updated_at_ms).collect();
        assert_eq!(times, [5091, 5092, 5093, 5094, 5095], "{name}");
        assert!(
            store.changed_since(5099, 10).expect("none").is_empty(),
            "{name}"
        );
    }
}

#[test]
fn every_store_gives_the_same_facets() {
    let (_dir, stores) = stores();
    let facets: Vec<_> = stores
        .iter()
        .map(|(_, s)| s.facets().expect("facets"))
        .collect();
    for (other, (name, _)) in facets.iter().zip(&stores).skip(1) {
        assert_eq!(&facets[0], other, "{name}");
    }
    let f = &facets[0];
    assert_eq!(f.backends, ["comfyui", "modelscope"]);
    assert_eq!(f.models, ["FLUX", "Qwen/Qwen-Image", "txt2img"]);
    // The batch with the newest job first.
    assert_eq!(
        f.batches,
        [("a:b".to_string(), 20), ("autumn".to_string(), 20)]
    );
    assert_eq!(
        f.statuses,
        [
            JobStatus::Cancelled,
            JobStatus::Failed,
            JobStatus::Running,
            JobStatus::Succeeded
        ]
    );
}

/// A queued job with an optional idempotency key.
fn keyed(id: &str, key: Option<&str>) -> Job {
    let mut j = job(1);
    j.id = id.to_string();
    j.status = JobStatus::Queued;
    j.idempotency_key = key.map(str::to_string);
    j
}

#[test]
fn every_store_hands_a_vacated_lease_over_at_once_and_reopens_a_job_once() {
    let (_homes, stores) = every_store();
    for (name, store) in &stores {
        store.insert(&keyed("a", None), "dead", 1_000).expect("a");
        store.insert(&keyed("b", None), "alive", 1_000).expect("b");
        assert_eq!(
            store.lease_holders().expect("holders"),
            ["alive", "dead"],
            "{name}"
        );
        // Both leases run until 1000; at 500 only the vacated owner's job is free.
        let claimed = store
            .claim_unfinished("me", 500, 2_000, &["dead".to_string()])
            .expect("claim");
        assert_eq!(ids(&claimed), ["a"], "{name}");
        assert_eq!(
            store.lease_holders().expect("holders"),
            ["alive", "me"],
            "{name}"
        );
        // Renewed leases hold; at 1500 the lapsed "alive" lease is taken.
        store.renew("me", 3_000).expect("renew");
        let claimed = store
            .claim_unfinished("other", 1_500, 4_000, &[])
            .expect("claim");
        assert_eq!(ids(&claimed), ["b"], "{name}: only the lapsed lease");

        let mut done = keyed("a", None);
        done.status = JobStatus::Failed;
        done.finished_at_ms = Some(3);
        assert!(
            !store.reopen(&done, "me", 9).expect("running"),
            "{name}: not finished"
        );
        store.put(&done).expect("finish");
        assert_eq!(
            store.lease_holders().expect("holders"),
            ["other"],
            "{name}: a finished job holds no lease"
        );
        let mut again = done.clone();
        again.status = JobStatus::Running;
        again.finished_at_ms = None;
        assert!(store.reopen(&again, "me", 9).expect("reopen"), "{name}");
        assert!(
            !store.reopen(&again, "other", 9).expect("twice"),
            "{name}: reopened once"
        );
        let stored = store.get("a").expect("get").expect("a");
        assert_eq!(
            (stored.status, stored.finished_at_ms),
            (JobStatus::Running, None),
            "{name}"
        );
        assert_eq!(
            store.prune(4).expect("prune"),
            0,
            "{name}: unfinished jobs are never pruned"
        );
    }
}

#[test]
fn every_store_keeps_one_job_per_idempotency_key() {
    let (_homes, stores) = every_store();
    for (name, store) in &stores {
        assert!(
            matches!(
                store
                    .insert(&keyed("first", Some("k")), "me", 1)
                    .expect("insert"),
                Inserted::New
            ),
            "{name}"
        );
        match store
            .insert(&keyed("second", Some("k")), "you", 1)
            .expect("insert")
        {
            Inserted::Existing(j) => assert_eq!(j.id, "first", "{name}"),
            Inserted::New => panic!("{name}: a second job with the same key"),
        }
        assert_eq!(
            store.get("second").expect("get"),
            None,
            "{name}: nothing written"
        );
        assert_eq!(
            store.find_by_key("k").expect("find").map(|j| j.id),
            Some("first".to_string()),
            "{name}"
        );
        assert_eq!(store.find_by_key("nope").expect("find"), None, "{name}");
    }
}

#[test]
fn every_store_imports_a_job_once_and_leaves_it_free_to_claim() {
    let (_homes, stores) = every_store();
    for (name, store) in &stores {
        let mut j = keyed("imported", Some("ik"));
        j.status = JobStatus::Running;
        assert!(store.import_job(&j).expect("import"), "{name}");
        let mut changed = j.clone();
        changed.status = JobStatus::Failed;
        assert!(
            !store.import_job(&changed).expect("again"),
            "{name}: never overwritten"
        );
        assert_eq!(
            store.get("imported").expect("get"),
            Some(j.clone()),
            "{name}"
        );
        let claimed = store.claim_unfinished("me", 1, 2, &[]).expect("claim");
        assert_eq!(
            ids(&claimed),
            ["imported"],
            "{name}: no owner, so claimable"
        );
    }
}

#[test]
fn every_store_lists_its_batches_and_answers_a_ping() {
    let (_homes, stores) = every_store();
    for (name, store) in &stores {
        store.ping().expect("ping");
        for (id, at) in [("batch:b", 2), ("batch:a", 1)] {
            store
                .put_batch(&super::BatchRecord {
                    id: id.into(),
                    batch_key: id.trim_start_matches("batch:").into(),
                    spec: json!({"lines": [at]}),
                    cancelled: false,
                    result: None,
                    created_at_ms: at,
                    updated_at_ms: at,
                })
                .expect("put");
        }
        let listed: Vec<String> = store
            .list_batches()
            .expect("list")
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(listed, ["batch:a", "batch:b"], "{name}: oldest first");
    }
}

/// Two handles on one store (two easel processes, or two replicas) inserting the same keys
/// at once: never refused, and every handle sees the same job for each key.
#[test]
fn two_handles_on_one_store_agree_on_every_keyed_insert() {
    for home in Home::all() {
        let handles = [home.open(), home.open()];
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = handles[t % 2].clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let key = format!("key-{i}");
                            let new = keyed(&format!("{t}-{i}"), Some(&key));
                            match store.insert(&new, "owner", 1).expect("never refused") {
                                Inserted::New => new.id,
                                Inserted::Existing(j) => j.id,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let answers: Vec<Vec<String>> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        for a in &answers[1..] {
            assert_eq!(a, &answers[0], "{}", home.name());
        }
        let all = handles[0]
            .list(&JobFilter {
                limit: 1_000,
                ..JobFilter::default()
            })
            .expect("list");
        assert_eq!(all.len(), 50, "{}", home.name());
    }
}

/// Two handles claiming the same lapsed jobs at once: each job goes to exactly one.
#[test]
fn two_handles_claiming_together_never_both_take_a_job() {
    for home in Home::all() {
        let handles = [home.open(), home.open()];
        for i in 0..200 {
            handles[0]
                .insert(&keyed(&format!("j{i:03}"), None), "dead", 1)
                .expect("insert");
        }
        let threads: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(n, store)| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for _ in 0..20 {
                        mine.extend(ids(&store
                            .claim_unfinished(&format!("r{n}"), 10, 1_000, &[])
                            .expect("claim")));
                    }
                    mine
                })
            })
            .collect();
        let mut taken: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().expect("thread"))
            .collect();
        let total = taken.len();
        taken.sort();
        taken.dedup();
        assert_eq!(
            (total, taken.len()),
            (200, 200),
            "{}: each job claimed exactly once",
            home.name()
        );
    }
}

/// A statement PostgreSQL refuses is reported in its words, not as the client's bare "db
/// error": here a key with a NUL, which no text column of PostgreSQL can hold.
#[test]
fn postgres_says_why_it_refused_a_statement() {
    let Some(url) = super::pg_test_database() else {
        return;
    };
    let store = super::PgStore::open(&url).expect("open");
    let e = store
        .put(&keyed("k", Some("a key\u{0}with a NUL")))
        .expect_err("refused")
        .to_string();
    assert!(e.contains("0x00") && e.contains(store.shown_url()), "{e}");
}

/// Services answer any text, NUL included (an error message, a ComfyUI error's details, a
/// rewritten prompt), and a job keeps it: every store takes and returns it exactly.
#[test]
fn every_store_keeps_a_services_text_exactly_nul_included() {
    let (_homes, stores) = every_store();
    for (name, store) in &stores {
        let mut j = keyed("nul", None);
        j.status = JobStatus::Failed;
        j.finished_at_ms = Some(2);
        j.error = Some(
            crate::backend::BackendError::new(
                crate::backend::ErrorKind::Failed,
                "the service said: bad\u{0}byte",
            )
            .with_details(json!({"node_errors": {"3": ["x\u{0}y"]}})),
        );
        j.warnings = vec!["\u{0}".into()];
        store.put(&j).expect("put");
        assert_eq!(store.get("nul").expect("get"), Some(j.clone()), "{name}");
        let mut imported = j.clone();
        imported.id = "nul-imported".into();
        assert!(store.import_job(&imported).expect("import"), "{name}");
        assert_eq!(
            store.get("nul-imported").expect("get"),
            Some(imported),
            "{name}"
        );
    }
}

/// PostgreSQL tells every handle (replica) of a job another one wrote, as it commits;
/// SQLite and memory say they do not tell (their waiters poll).
#[test]
fn a_store_that_tells_tells_every_handle_of_another_ones_writes() {
    for home in Home::all() {
        let (mine, theirs) = (home.open(), home.open());
        let Some(mut told) = mine.changes() else {
            assert_eq!(home.name(), "sqlite", "only SQLite (and memory) poll");
            continue;
        };
        let job = keyed("told", None);
        theirs.insert(&job, "them", 1).expect("insert");
        let mut update = job.clone();
        update.status = JobStatus::Succeeded;
        update.updated_at_ms = 77;
        theirs.put(&update).expect("put");
        // Both writes arrive, in order; lease renewals are not changes anyone waits for.
        theirs.renew("them", 5).expect("renew");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let got: Vec<super::Changed> = runtime.block_on(async {
            let mut got = Vec::new();
            while got.len() < 2 {
                let id = tokio::time::timeout(std::time::Duration::from_secs(10), told.recv())
                    .await
                    .expect("told within 10 s")
                    .expect("open");
                got.push(id);
            }
            got
        });
        // Each with the written state's update time (the writer knows its own write).
        let told_of: Vec<(&str, u64)> = got
            .iter()
            .map(|c| (c.id.as_str(), c.updated_at_ms))
            .collect();
        assert_eq!(
            told_of,
            [("told", job.updated_at_ms), ("told", 77)],
            "{}",
            home.name()
        );
        assert!(told.try_recv().is_err(), "the renewal told nobody");
    }
    assert!(MemoryStore::default().changes().is_none());
}

/// A filter holding a NUL (a gallery query with %00) matches nothing, on every store,
/// rather than failing (PostgreSQL refuses NUL in a query's text).
#[test]
fn every_store_answers_a_filter_with_a_nul_with_nothing() {
    let (_homes, stores) = stores();
    for (name, store) in &stores {
        for filter in [
            JobFilter {
                model: Some("FLUX\0".into()),
                ..JobFilter::default()
            },
            JobFilter {
                text: Some("dog\0".into()),
                ..JobFilter::default()
            },
            JobFilter {
                batch: Some("autumn\0".into()),
                ..JobFilter::default()
            },
        ] {
            assert_eq!(
                store.list(&filter).expect("no error"),
                [],
                "{name}: {filter:?}"
            );
        }
    }
}

/// The fenced write of a running job: only while its writer holds the lease.
#[test]
fn every_store_writes_a_held_job_only_for_its_holder() {
    let (_homes, stores) = every_store();
    for (name, store) in &stores {
        store
            .insert(&keyed("held", None), "me", 1_000)
            .expect("insert");
        let mut update = keyed("held", None);
        update.status = JobStatus::Running;
        assert!(
            store.put_held(&update, "me").expect("put"),
            "{name}: the holder writes"
        );
        assert_eq!(
            store.get("held").expect("get").map(|j| j.status),
            Some(JobStatus::Running),
            "{name}"
        );
        // Another process takes it over (the lease lapsed).
        assert_eq!(
            ids(&store
                .claim_unfinished("other", 2_000, 9_000, &[])
                .expect("claim")),
            ["held"],
            "{name}"
        );
        let mut late = update.clone();
        late.status = JobStatus::Succeeded;
        assert!(
            !store.put_held(&late, "me").expect("put"),
            "{name}: the former holder is refused"
        );
        assert_eq!(
            store.get("held").expect("get").map(|j| j.status),
            Some(JobStatus::Running),
            "{name}: nothing written"
        );
        assert!(
            !store.put_held(&keyed("absent", None), "me").expect("put"),
            "{name}: no such job"
        );
        assert_eq!(store.get("absent").expect("get"), None, "{name}");
    }
}
