//! What a job row may point at besides a saved image, and query values at the edge of their
//! types: a FIFO (opening one for reading waits for a writer), a directory, a file larger
//! than easel serves, image numbers in other spellings, a date past the store's range.

use std::time::Duration;

use easel_sim::ModelScopeConfig;
use serde_json::{Value, json};

use super::support::*;

/// A client that gives up well after any honest answer: a request that waits on a FIFO
/// fails here instead of hanging the test run.
fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_a_folder_or_an_oversized_file_at_a_stored_path_is_refused_without_waiting() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let fifo = s.out().join("pipe.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let folder = s.out().join("folder.png");
    std::fs::create_dir_all(&folder).expect("folder");
    // Sparse: 300 MiB that take no disk.
    let huge = s.out().join("huge.png");
    std::fs::File::create(&huge)
        .expect("huge")
        .set_len(300 * 1024 * 1024)
        .expect("set_len");
    let row = |index: u32, path: &std::path::Path| {
        json!({"index": index, "path": path, "mime": "image/png", "width": 64, "height": 64,
               "bytes": 1000, "seed": 1})
    };
    let id = "0000000000000000000000000000f1f0";
    s.put(&job(
        id,
        1,
        json!({"images": [row(0, &fifo), row(1, &folder), row(2, &huge)]}),
    ));

    let client = impatient();
    let made_before = s.gallery.thumbnails_made();
    for kind in ["img", "thumb"] {
        for index in 0..3 {
            let url = s.url(&format!("/gallery/{kind}/{id}/{index}"));
            let answer = client.get(&url).send().await;
            // Whatever happened, let a reader stuck on the FIFO go (a writer opening it
            // releases it), so a failure here fails the test instead of hanging it.
            release(&fifo);
            let r = answer.unwrap_or_else(|e| panic!("{url}: no answer ({e})"));
            assert_eq!(r.status(), 404, "{url}");
            let body: Value = r.json().await.expect("json");
            let text = body["error"].as_str().expect("error");
            assert!(text.contains(&format!("job {id} image {index}")), "{text}");
        }
    }
    assert_eq!(s.gallery.thumbnails_made(), made_before);
}

/// Opens `fifo` for writing without waiting: releases a reader blocked in open.
#[cfg(unix)]
fn release(fifo: &std::path::Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo);
}

#[tokio::test]
async fn image_numbers_in_other_spellings_are_not_found() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let path = s.out().join("one.png");
    write_png(&path, 16, 16);
    let id = "0000000000000000000000000000f1f1";
    s.put(&job(id, 1, json!({"images": [saved(1, &path, 16, 16)]})));
    for kind in ["img", "thumb"] {
        assert_eq!(
            s.get(&format!("/gallery/{kind}/{id}/1")).await.status(),
            200
        );
        for index in [
            "+1",
            "%2B1",
            "0x1",
            "1.0",
            "%201",
            "1%20",
            "１",
            "99999999999999999999",
            "4294967297",
            "-0",
        ] {
            let r = s.get(&format!("/gallery/{kind}/{id}/{index}")).await;
            assert_eq!(r.status(), 404, "{kind} {index}");
        }
    }
}

#[tokio::test]
async fn a_since_past_the_stores_range_finds_nothing() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    s.put(&job("0000000000000000000000000000f1f2", 1_000, json!({})));
    let all = s.get_json("/gallery/api/jobs").await;
    assert_eq!(all["jobs"].as_array().expect("jobs").len(), 1);
    for since in [
        "18446744073709551615",
        "9223372036854775808",
        "9223372036854775807",
    ] {
        let page = s
            .get_json(&format!("/gallery/api/jobs?since={since}"))
            .await;
        assert_eq!(page["jobs"], json!([]), "since={since}");
    }
    let page = s
        .get_json("/gallery/api/jobs?until=18446744073709551615")
        .await;
    assert_eq!(page["jobs"].as_array().expect("jobs").len(), 1);
}

#[tokio::test]
async fn an_oversized_body_is_refused_as_json_before_it_is_read_whole() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let csrf = s.csrf(None).await;
    // Far over the bound, and a publish naming thousands of images (also over it).
    let images: Vec<Value> = (0..10_000)
        .map(|i| json!({"job_id": "0000000000000000000000000000f1f3", "index": i}))
        .collect();
    let bodies = [
        format!("{{\"title\": \"{}\"}}", "x".repeat(4 * 1024 * 1024)),
        json!({"images": images, "title": "t", "confirm": true}).to_string(),
    ];
    for path in ["/gallery/api/publish", "/gallery/api/publish/preview"] {
        for body in &bodies {
            let r = http()
                .post(s.url(path))
                .header("origin", &s.origin)
                .header("x-easel-csrf", &csrf)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), 413, "{path}");
            let answer: Value = r.json().await.expect("a JSON refusal");
            let text = answer["error"].as_str().expect("error");
            assert!(text.starts_with("body:"), "{text}");
        }
    }
    assert!(s.xhs.published().is_empty());
}

#[tokio::test]
async fn an_oversized_sign_in_form_gets_the_sign_in_page() {
    let s = Served::start(ModelScopeConfig::default(), Some(TOKEN)).await;
    let r = http()
        .post(s.url("/gallery/login"))
        .header("origin", &s.origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}&pad={}", "x".repeat(1024 * 1024)))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 413);
    assert!(r.headers().get("set-cookie").is_none());
    let page = r.text().await.expect("page");
    assert!(page.contains("sign-in form is too large"), "{page}");
}

#[tokio::test]
async fn a_decompression_bomb_gets_no_thumbnail_and_is_not_decoded() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    // A small JPEG whose frame header claims 65,000 × 65,000 pixels (about 12 GB as RGB).
    let img = image::RgbImage::from_pixel(16, 16, image::Rgb([200, 10, 10]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Jpeg)
        .expect("jpeg");
    let mut bytes = bytes.into_inner();
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    let path = s.out().join("bomb.jpg");
    std::fs::write(&path, &bytes).expect("write");
    let id = "0000000000000000000000000000f1f4";
    s.put(&job(
        id,
        1,
        json!({"images": [{"index": 0, "path": path, "mime": "image/jpeg", "width": 16,
                           "height": 16, "bytes": bytes.len(), "seed": 1}]}),
    ));
    let r = impatient()
        .get(s.url(&format!("/gallery/thumb/{id}/0")))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 404);
    assert_eq!(s.gallery.thumbnails_made(), 0);
    // The file itself is still served as saved.
    assert_eq!(s.get(&format!("/gallery/img/{id}/0")).await.status(), 200);
}

#[tokio::test]
async fn every_gallery_route_refuses_a_foreign_host() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Served::start(ModelScopeConfig::default(), Some(TOKEN)).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let id = "0000000000000000000000000000f1f5";
    for (method, path) in [
        ("GET", "/".to_string()),
        ("GET", "/gallery/app.js".into()),
        ("GET", "/gallery/login".into()),
        ("POST", "/gallery/login".into()),
        ("POST", "/gallery/logout".into()),
        ("GET", "/gallery/api/session".into()),
        ("GET", "/gallery/api/jobs".into()),
        ("GET", format!("/gallery/api/jobs/{id}")),
        ("GET", "/gallery/api/facets".into()),
        ("GET", "/gallery/events".into()),
        ("GET", format!("/gallery/img/{id}/0")),
        ("GET", format!("/gallery/thumb/{id}/0")),
        ("POST", format!("/gallery/api/jobs/{id}/cancel")),
        ("POST", format!("/gallery/api/jobs/{id}/again")),
        ("POST", "/gallery/api/publish/preview".into()),
        ("POST", "/gallery/api/publish".into()),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: rebound.example:{port}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            port = addr.rsplit(':').next().expect("port")
        );
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(
            answer.starts_with("HTTP/1.1 403"),
            "{method} {path}: {answer}"
        );
    }
}

#[tokio::test]
async fn impossible_dates_are_refused_by_name() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    for (query, field) in [
        ("since=2026-02-30", "since:"),
        ("since=2026-13-01", "since:"),
        ("until=1969-12-31", "until:"),
        ("until=2026-1-01", "until:"),
        ("since=-5", "since:"),
        ("since=0x10", "since:"),
    ] {
        let r = s.get(&format!("/gallery/api/jobs?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.expect("json");
        let text = body["error"].as_str().expect("error");
        assert!(text.starts_with(field), "{query}: {text}");
    }
}

#[tokio::test]
async fn an_image_whose_stored_path_leaves_the_root_is_not_published() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let outside = s.dir.path().join("outside.png");
    write_png(&outside, 64, 64);
    let id = "0000000000000000000000000000f1f6";
    s.put(&job(id, 1, json!({"images": [saved(0, &outside, 64, 64)]})));
    let body = |confirm: bool| {
        json!({"images": [{"job_id": id, "index": 0}], "title": "秋天", "content": "咖啡",
               "tags": [], "confirm": confirm})
    };
    let r = s
        .post_as_page("/gallery/api/publish/preview", None, body(false))
        .await;
    let preview: Value = r.json().await.expect("json");
    assert_eq!(preview["ok"], false, "{preview}");
    let r = s
        .post_as_page("/gallery/api/publish", None, body(true))
        .await;
    assert_eq!(r.status(), 422);
    assert!(s.xhs.published().is_empty());
}

#[tokio::test]
async fn a_row_stamped_in_the_future_does_not_hide_other_easels_later_changes() {
    use easel::jobs::JobStore;
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let mut events = Events::open(&s).await;
    // Another easel, on a machine whose clock is a day ahead, writes a job…
    let other = easel::jobs::SqliteStore::open(&s.config.data_dir.join("jobs.db")).expect("store");
    let now = easel::clock::now_ms();
    let ahead = job(
        "0000000000000000000000000000fa01",
        now + 86_400_000,
        json!({"updated_at_ms": now + 86_400_000}),
    );
    other.put(&ahead).expect("put");
    events.until(&ahead.id, |_| true).await;
    // …then a finished one (not a running one, which this easel would adopt and so
    // announce itself) with today's time: it must still appear.
    let later = job(
        "0000000000000000000000000000fa02",
        easel::clock::now_ms(),
        json!({"request": {"prompt": "made elsewhere"}}),
    );
    other.put(&later).expect("put");
    let seen = events.until(&later.id, |_| true).await;
    assert_eq!(seen[0]["prompt"], "made elsewhere");
}

#[tokio::test]
async fn a_burst_of_more_jobs_than_one_look_reads_all_appear() {
    use easel::jobs::JobStore;
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let mut events = Events::open(&s).await;
    let other = easel::jobs::SqliteStore::open(&s.config.data_dir.join("jobs.db")).expect("store");
    // 600 jobs stamped within one second by another easel: more than a look reads (500).
    let now = easel::clock::now_ms();
    let mut waiting = std::collections::HashSet::new();
    for i in 0..600u64 {
        let id = format!("00000000000000000000000000{i:06}");
        let at = now - 600 + i;
        other
            .put(&job(&id, at, json!({"updated_at_ms": at})))
            .expect("put");
        waiting.insert(id);
    }
    while !waiting.is_empty() {
        let (event, card) = events.next().await;
        if event == "job"
            && let Some(id) = card["id"].as_str()
        {
            waiting.remove(id);
        }
    }
}
