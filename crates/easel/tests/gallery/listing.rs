//! Pages of job cards: newest first, keyset paging without gaps or repeats while jobs keep
//! arriving, every filter (checked against the same jobs filtered by hand), the facets, and
//! one job in full with its equivalent command.

use std::collections::HashSet;

use easel_sim::ModelScopeConfig;
use serde_json::{Value, json};

use super::support::*;

/// 300 jobs across two backends, three models or workflows, two batches and four statuses.
fn many(s: &Served) -> Vec<easel::jobs::Job> {
    let mut all = Vec::new();
    for i in 0..300u64 {
        let (backend, model, workflow) = match i % 3 {
            0 => ("modelscope", Some("Qwen/Qwen-Image"), None),
            1 => (
                "modelscope",
                Some("black-forest-labs/FLUX.1-Krea-dev"),
                None,
            ),
            _ => ("comfyui", None, Some("txt2img")),
        };
        let status = ["succeeded", "failed", "cancelled", "succeeded"][(i % 4) as usize];
        let key = match i % 5 {
            0 => Value::String(format!("batch:autumn:{i}:00ff00ff00ff00ff")),
            1 => Value::String(format!("batch:spring:2026:{i}:0123abcd")),
            _ => Value::Null,
        };
        let prompt = if i % 7 == 0 {
            format!("A Golden Cat number {i}")
        } else {
            format!("a dog {i}, 100% good_boy")
        };
        // Pairs of jobs share a creation time, so the id breaks ties.
        let j = job(
            &format!("{:032x}", i * 7919 % 1000),
            1_700_000_000_000 + (i / 2) * 60_000,
            json!({"backend": backend, "status": status, "idempotency_key": key,
                   "request": {"prompt": prompt, "model": model, "workflow": workflow}}),
        );
        s.put(&j);
        all.push(j);
    }
    all.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
    all
}

/// Which jobs a query should select, by hand.
type Keep = Box<dyn Fn(&easel::jobs::Job) -> bool>;

async fn ids_of_all_pages(s: &Served, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/gallery/api/jobs?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = s.get_json(&path).await;
        let jobs = page["jobs"].as_array().expect("jobs");
        assert!(jobs.len() <= limit);
        ids.extend(
            jobs.iter()
                .map(|j| j["id"].as_str().expect("id").to_string()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return ids,
        }
        assert!(ids.len() <= 1000, "paging never ends");
    }
}

#[tokio::test]
async fn pages_and_filters_agree_with_the_jobs_filtered_by_hand() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let all = many(&s);
    let ids = |keep: &dyn Fn(&easel::jobs::Job) -> bool| -> Vec<String> {
        all.iter()
            .filter(|j| keep(j))
            .map(|j| j.id.clone())
            .collect()
    };

    let paged = ids_of_all_pages(&s, "", 40).await;
    assert_eq!(
        paged,
        ids(&|_| true),
        "newest first, (created_at, id) order, all of them once"
    );
    assert_eq!(paged.iter().collect::<HashSet<_>>().len(), 300);

    let cases: Vec<(&str, Keep)> = vec![
        (
            "status=failed,cancelled",
            Box::new(|j| matches!(j.status.as_str(), "failed" | "cancelled")),
        ),
        ("backend=comfyui", Box::new(|j| j.backend == "comfyui")),
        (
            "model=txt2img",
            Box::new(|j| j.request.workflow.as_deref() == Some("txt2img")),
        ),
        (
            "model=Qwen%2FQwen-Image",
            Box::new(|j| j.request.model.as_deref() == Some("Qwen/Qwen-Image")),
        ),
        (
            "batch=spring%3A2026",
            Box::new(|j| j.batch_key() == Some("spring:2026")),
        ),
        (
            "q=golden+CAT",
            Box::new(|j| j.request.prompt.contains("Golden Cat")),
        ),
        // LIKE's wildcards are text here.
        (
            "q=100%25+good_boy",
            Box::new(|j| j.request.prompt.contains("100% good_boy")),
        ),
        ("q=0%25+g", Box::new(|j| j.request.prompt.contains("0% g"))),
        ("q=_", Box::new(|j| j.request.prompt.contains('_'))),
        (
            "since=1700000600000&until=1700001200000",
            Box::new(|j| (1_700_000_600_000..1_700_001_200_000).contains(&j.created_at_ms)),
        ),
        (
            "backend=modelscope&status=succeeded&batch=autumn",
            Box::new(|j| {
                j.backend == "modelscope"
                    && j.status.as_str() == "succeeded"
                    && j.batch_key() == Some("autumn")
            }),
        ),
    ];
    for (query, keep) in &cases {
        let want = ids(keep.as_ref());
        assert!(!want.is_empty(), "{query} selects something");
        assert_eq!(ids_of_all_pages(&s, query, 7).await, want, "{query}");
    }

    // New jobs arriving while someone pages do not shift later pages.
    let first = s.get_json("/gallery/api/jobs?limit=10").await;
    for i in 0..5 {
        s.put(&job(
            &format!("{:032x}", 5000 + i),
            1_800_000_000_000 + i,
            json!({}),
        ));
    }
    let next = first["next"].as_str().expect("next");
    let second = s
        .get_json(&format!("/gallery/api/jobs?limit=10&cursor={next}"))
        .await;
    let got: Vec<&str> = second["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        got,
        paged[10..20].iter().map(String::as_str).collect::<Vec<_>>()
    );

    let facets = s.get_json("/gallery/api/facets").await;
    assert_eq!(facets["backends"], json!(["comfyui", "modelscope"]));
    assert_eq!(
        facets["models"],
        json!([
            "Qwen/Qwen-Image",
            "black-forest-labs/FLUX.1-Krea-dev",
            "txt2img"
        ])
    );
    assert_eq!(
        facets["statuses"],
        json!(["cancelled", "failed", "succeeded"])
    );
    let batches = facets["batches"].as_array().expect("batches");
    assert_eq!(batches.len(), 2);
    assert!(
        batches.contains(&json!({"key": "spring:2026", "jobs": 60})),
        "{facets}"
    );
}

#[tokio::test]
async fn bad_queries_are_refused_naming_the_parameter() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    for (query, status, named) in [
        ("colour=red", 400, "\"colour\""),
        ("status=done", 400, "status:"),
        ("limit=1000", 400, "limit:"),
        ("since=last-week", 400, "since:"),
        ("cursor=not-ours", 400, "cursor:"),
    ] {
        let r = s.get(&format!("/gallery/api/jobs?{query}")).await;
        assert_eq!(r.status(), status, "{query}");
        let body: Value = r.json().await.expect("json");
        let text = body["error"].as_str().expect("error");
        assert!(text.contains(named), "{query}: {text}");
    }
    let long = format!("/gallery/api/jobs?q={}", "a".repeat(3000));
    let r = s.get(&long).await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"].as_str().expect("error").contains("2048"),
        "{body}"
    );
}

#[tokio::test]
async fn one_job_in_full_with_the_command_that_makes_it_again() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let long_prompt = format!("a cat's dream {}", "and more ".repeat(60));
    let path = s.out().join("cats").join("cat.png");
    write_png(&path, 64, 48);
    let j = job(
        "0123456789abcdef0123456789abcdef",
        1_700_000_000_000,
        json!({"request": {"prompt": long_prompt, "negative_prompt": "blur", "steps": 30, "count": 2, "seed": 41},
               "output": {"dir": "cats", "stem": "cat", "format": "png"},
               "images": [saved(0, &path, 64, 48)],
               "failures": [{"index": 1, "seed": 42, "error": {"kind": "download", "message": "the download timed out"}}]}),
    );
    s.put(&j);
    let list = s.get_json("/gallery/api/jobs").await;
    let card = &list["jobs"][0];
    assert_eq!(
        card["prompt"].as_str().expect("prompt").chars().count(),
        300
    );
    assert_eq!(card["prompt_truncated"], true);
    assert_eq!(
        card["seeds"],
        json!([7, 42]),
        "the saved image's seed, then the request's"
    );
    assert_eq!(card["duration_ms"], 1500);
    assert_eq!(
        card["images"][0]["thumb"],
        format!("/gallery/thumb/{}/0", j.id)
    );
    assert_eq!(card["images"][0]["name"], "cat.png");
    assert!(card.get("paths").is_none(), "no paths on cards");

    let full = s.get_json(&format!("/gallery/api/jobs/{}", j.id)).await;
    assert_eq!(full["prompt"], long_prompt.as_str());
    assert_eq!(full["prompt_truncated"], false);
    assert_eq!(full["negative_prompt"], "blur");
    assert_eq!(full["steps"], 30);
    assert_eq!(
        full["failures"],
        json!([{"index": 1, "error": "the download timed out"}])
    );
    assert_eq!(full["paths"], json!([path.display().to_string()]));
    let command = full["command"].as_str().expect("command");
    assert!(
        command.starts_with("easel generate 'a cat'\\''s dream"),
        "{command}"
    );
    assert!(
        command.contains(" --seed 41 ")
            && command.contains(" --out cats ")
            && command.ends_with("--format png"),
        "{command}"
    );

    let missing = s
        .get("/gallery/api/jobs/ffffffffffffffffffffffffffffffff")
        .await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("no such job"),
        "{body}"
    );
}
