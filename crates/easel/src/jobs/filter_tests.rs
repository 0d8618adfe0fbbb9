//! The same listing tests against both stores: every filter, keyset paging, the store's
//! view of changes and the facets. The in-memory store is the reference the SQL must match.

use std::sync::Arc;

use serde_json::json;

use super::store::{JobFilter, JobStore, MemoryStore};
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

fn stores() -> (tempfile::TempDir, Stores) {
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = SqliteStore::open(&dir.path().join("jobs.db")).expect("open");
    let list: Stores = vec![
        ("memory", Arc::new(MemoryStore::default())),
        ("sqlite", Arc::new(sqlite)),
    ];
    for (_, s) in &list {
        for i in 0..100 {
            s.put(&job(i)).expect("put");
        }
    }
    (dir, list)
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
fn both_stores_filter_and_page_alike() {
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
fn both_stores_report_changes_in_update_order() {
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
fn both_stores_give_the_same_facets() {
    let (_dir, stores) = stores();
    let facets: Vec<_> = stores
        .iter()
        .map(|(_, s)| s.facets().expect("facets"))
        .collect();
    assert_eq!(facets[0], facets[1]);
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
