//! What a page open to a network must withstand: paths that try to leave the output root
//! (in the URL, or in a job row, or through a symbolic link), unknown ids, forged cookies,
//! cross-site POSTs, wrong tokens; and the token never in any answer.

use easel_sim::ModelScopeConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

const SECRET: &str = "OUTSIDE-THE-ROOT-SECRET";

/// One request exactly as written (no client normalising `..` or escapes): status and the
/// whole answer.
async fn raw(s: &Served, request_line_path: &str, extra: &str) -> (u16, String) {
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let auth = s
        .token
        .as_ref()
        .map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "GET {request_line_path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{extra}Connection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn no_url_serves_a_file_outside_the_output_root() {
    let s = Served::start(ModelScopeConfig::default(), Some(TOKEN)).await;
    let outside = s.dir.path().join("outside");
    std::fs::create_dir_all(&outside).expect("dir");
    let secret_png = outside.join("secret.png");
    write_png(&secret_png, 64, 64);
    std::fs::write(outside.join("secret.txt"), SECRET).expect("secret");

    // A job whose stored path points outside the root, one whose file inside the root is a
    // symbolic link to a file outside, one stored as HTML, and a proper one.
    let inside = s.out().join("fine.png");
    write_png(&inside, 32, 32);
    s.put(&job(
        "000000000000000000000000000000a1",
        1,
        json!({"images": [saved(0, &secret_png, 64, 64)]}),
    ));
    #[cfg(unix)]
    {
        let link = s.out().join("link.png");
        std::os::unix::fs::symlink(&secret_png, &link).expect("symlink");
        let linked_dir = s.out().join("linked-dir");
        std::os::unix::fs::symlink(&outside, &linked_dir).expect("dir symlink");
        s.put(&job(
            "000000000000000000000000000000a2",
            2,
            json!({"images": [
            saved(0, &link, 64, 64), saved(1, &linked_dir.join("secret.png"), 64, 64)]}),
        ));
    }
    let mut html = saved(0, &inside, 32, 32);
    html["mime"] = json!("text/html");
    s.put(&job(
        "000000000000000000000000000000a3",
        3,
        json!({"images": [html]}),
    ));
    s.put(&job(
        "000000000000000000000000000000a4",
        4,
        json!({"images": [saved(0, &inside, 32, 32)]}),
    ));

    let made = s.gallery.thumbnails_made();
    let secret_bytes = std::fs::read(&secret_png).expect("png");
    let mut paths: Vec<String> = Vec::new();
    for kind in ["img", "thumb"] {
        for (id, index) in [
            ("000000000000000000000000000000a1", "0"),
            ("000000000000000000000000000000a2", "0"),
            ("000000000000000000000000000000a2", "1"),
            ("000000000000000000000000000000a3", "0"),
            ("ffffffffffffffffffffffffffffffff", "0"),
        ] {
            paths.push(format!("/gallery/{kind}/{id}/{index}"));
        }
        for tail in [
            "../../../outside/secret.txt",
            "..%2f..%2f..%2foutside%2fsecret.txt/0",
            "%2e%2e/%2e%2e/outside/secret.txt",
            "%2e%2e%2f%2e%2e%2foutside/0",
            "..%5c..%5coutside%5csecret.txt/0",
            "%5c..%5c..%5coutside/0",
            "000000000000000000000000000000a4/..%2f..%2f..%2foutside%2fsecret.txt",
            "000000000000000000000000000000a4/-1",
            "000000000000000000000000000000a4/0%00",
            "000000000000000000000000000000a4/1e3",
            "/etc/passwd/0",
            "%2fetc%2fpasswd/0",
            "C:%5cWindows%5cwin.ini/0",
            "000000000000000000000000000000a4%2f..%2f..%2foutside/0",
        ] {
            paths.push(format!("/gallery/{kind}/{tail}"));
        }
    }
    paths.push(format!("/{}", secret_png.display()));
    paths.push("/gallery/../outside/secret.txt".into());
    paths.push("/gallery/%2e%2e/%2e%2e/outside/secret.txt".into());
    for path in &paths {
        let (status, answer) = raw(&s, path, "").await;
        assert!(status == 404 || status == 400, "{path}: {status}\n{answer}");
        assert!(!answer.contains(SECRET), "{path}");
        assert!(
            !answer
                .as_bytes()
                .windows(64)
                .any(|w| secret_bytes.windows(64).any(|v| v == w)),
            "{path} served the outside PNG"
        );
    }
    assert_eq!(
        s.gallery.thumbnails_made(),
        made,
        "nothing outside was even decoded"
    );
    // The proper one is served.
    let (status, _) = raw(&s, "/gallery/img/000000000000000000000000000000a4/0", "").await;
    assert_eq!(status, 200);
    // A foreign Host (DNS rebinding) is refused before any route.
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test]
async fn signing_in_needs_the_token_and_forged_cookies_are_refused() {
    let s = Served::start(ModelScopeConfig::default(), Some(TOKEN)).await;
    let anonymous = http().get(s.url("/")).send().await.expect("get");
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/gallery/login");
    let form = http()
        .get(s.url("/gallery/login"))
        .send()
        .await
        .expect("form");
    let form = form.text().await.expect("html");
    assert!(
        form.contains("type=\"password\"") && form.contains("name=\"token\""),
        "{form}"
    );
    let api = http()
        .get(s.url("/gallery/api/jobs"))
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), 401);
    let body: Value = api.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("/gallery/login"),
        "{body}"
    );

    let (status, cookie, page) = s.sign_in("not-the-token-at-all-000").await;
    assert_eq!(status, 401);
    assert!(cookie.is_none());
    assert!(page.contains("not this easel's token"), "{page}");

    let (status, cookie, _) = s.sign_in(TOKEN).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("set-cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let pair = cookie_pair(&cookie);
    let page = http()
        .get(s.url("/"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        easel::gallery::CSP
    );
    let jobs = http()
        .get(s.url("/gallery/api/jobs"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("api");
    assert_eq!(jobs.status(), 200);

    // A changed signature, a changed expiry, another token's cookie: refused, saying so.
    let value = pair.trim_start_matches("easel_session=").to_string();
    let mut parts: Vec<String> = value.split('.').map(str::to_string).collect();
    let mut forged_sig = parts.clone();
    // Another first character (the signature may itself start with "A": 1 in 64).
    let other = if parts[3].starts_with('A') { 'B' } else { 'A' };
    forged_sig[3] = format!("{other}{}", &parts[3][1..]);
    parts[1] = "99999999999999".into();
    for forged in [
        forged_sig.join("."),
        parts.join("."),
        "v1.1.x.y".into(),
        "the-token".into(),
    ] {
        let r = http()
            .get(s.url("/gallery/api/jobs"))
            .header("cookie", format!("easel_session={forged}"))
            .send()
            .await
            .expect("api");
        assert_eq!(r.status(), 401, "{forged}");
        let body: Value = r.json().await.expect("json");
        assert!(
            body["error"]
                .as_str()
                .expect("error")
                .contains("not one this easel issued"),
            "{body}"
        );
        let page = http()
            .get(s.url("/"))
            .header("cookie", format!("easel_session={forged}"))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), 303, "{forged}");
    }

    // A login form posted by another site does not sign in.
    let r = http()
        .post(s.url("/gallery/login"))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .expect("login");
    assert!(r.status() == 403 || r.status() == 400, "{}", r.status());
    assert!(r.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let s = Served::start(
        ModelScopeConfig {
            in_progress_polls: 1_000_000,
            ..Default::default()
        },
        Some(TOKEN),
    )
    .await;
    let (_, cookie, _) = s.sign_in(TOKEN).await;
    let pair = cookie_pair(&cookie.expect("cookie"));
    let running = submit(&s, "a long night");
    let cancel = s.url(&format!("/gallery/api/jobs/{}/cancel", running.id));
    let again = s.url(&format!("/gallery/api/jobs/{}/again", running.id));
    let csrf = s.csrf(Some(&pair)).await;
    let other_csrf = s.csrf(None).await;

    let attempts: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "foreign origin",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("origin", "http://evil.example")
                .header("x-easel-csrf", &csrf)
                .json(&json!({})),
        ),
        (
            "null origin",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("origin", "null")
                .header("x-easel-csrf", &csrf)
                .json(&json!({})),
        ),
        (
            "no origin",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("x-easel-csrf", &csrf)
                .json(&json!({})),
        ),
        (
            "cross-site fetch",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("sec-fetch-site", "cross-site")
                .header("x-easel-csrf", &csrf)
                .json(&json!({})),
        ),
        (
            "no csrf header",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("origin", &s.origin)
                .json(&json!({})),
        ),
        (
            "another session's csrf",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("origin", &s.origin)
                .header("x-easel-csrf", &other_csrf)
                .json(&json!({})),
        ),
        (
            "form content type",
            http()
                .post(&cancel)
                .header("cookie", &pair)
                .header("origin", &s.origin)
                .header("x-easel-csrf", &csrf)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=b"),
        ),
        (
            "text content type",
            http()
                .post(&again)
                .header("cookie", &pair)
                .header("origin", &s.origin)
                .header("x-easel-csrf", &csrf)
                .header("content-type", "text/plain")
                .body("{}"),
        ),
        (
            "no session",
            http()
                .post(&again)
                .header("origin", &s.origin)
                .header("x-easel-csrf", &csrf)
                .json(&json!({})),
        ),
    ];
    for (what, request) in attempts {
        let r = request.send().await.expect("post");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        assert!(matches!(status, 401 | 403), "{what}: {status} {text}");
        // The gallery's JSON, or the Host/Origin guard's plain text before it.
        assert!(
            text.contains("Origin")
                || text.contains("Sec-Fetch-Site")
                || text.contains("X-Easel-CSRF")
                || text.contains("Content-Type")
                || text.contains("Not signed in"),
            "{what}: {text}"
        );
    }
    let listed = s.get_json("/gallery/api/jobs").await;
    assert_eq!(
        listed["jobs"].as_array().expect("jobs").len(),
        1,
        "no job was made"
    );
    let still = s.jobs.get(&running.id).expect("store").expect("job");
    assert!(
        !still.status.is_terminal(),
        "not cancelled: {:?}",
        still.status
    );

    // The page's own request does it.
    let r = s
        .post_as_page(
            &format!("/gallery/api/jobs/{}/cancel", running.id),
            Some(&pair),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let done = s
        .jobs
        .wait(&running.id, std::time::Duration::from_secs(30), |_| {})
        .await
        .expect("store")
        .expect("job");
    assert_eq!(done.status.as_str(), "cancelled");
}

#[tokio::test]
async fn the_token_never_appears_in_any_answer() {
    let s = Served::start(ModelScopeConfig::default(), Some(TOKEN)).await;
    let path = s.out().join("a.png");
    write_png(&path, 64, 64);
    let id = "000000000000000000000000000000b1";
    s.put(&job(id, 1, json!({"images": [saved(0, &path, 64, 64)]})));
    let (_, cookie, login_page) = s.sign_in(TOKEN).await;
    let (_, _, wrong_page) = s.sign_in("wrong-token-0000000000000").await;
    let pair = cookie_pair(&cookie.clone().expect("cookie"));
    let mut answers = vec![cookie.expect("cookie"), login_page, wrong_page];
    let routes = [
        "/",
        "/gallery/app.js",
        "/gallery/app.css",
        "/gallery/login",
        "/gallery/api/session",
        "/gallery/api/jobs",
        &format!("/gallery/api/jobs/{id}"),
        "/gallery/api/facets",
        &format!("/gallery/img/{id}/0"),
        &format!("/gallery/thumb/{id}/0"),
        "/gallery/api/jobs?colour=red",
        "/gallery/api/jobs/nope",
        "/healthz",
    ];
    for route in routes {
        for auth in ["cookie", "bearer", "none", "wrong bearer"] {
            let mut req = http().get(s.url(route));
            req = match auth {
                "cookie" => req.header("cookie", &pair),
                "bearer" => req.bearer_auth(TOKEN),
                "wrong bearer" => req.bearer_auth("wrong-token-0000000000000"),
                _ => req,
            };
            let r = req.send().await.expect("get");
            answers.push(format!("{:?}", r.headers()));
            answers.push(String::from_utf8_lossy(&r.bytes().await.expect("body")).into_owned());
        }
    }
    let r = s
        .post_as_page(
            &format!("/gallery/api/jobs/{id}/again"),
            Some(&pair),
            json!({"bogus": 1}),
        )
        .await;
    answers.push(format!("{:?}", r.headers()));
    answers.push(r.text().await.expect("body"));
    for a in &answers {
        assert!(!a.contains(TOKEN), "the token leaked: {a}");
    }
}
