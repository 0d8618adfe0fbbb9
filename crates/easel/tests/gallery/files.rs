//! Saved images by job id and index, with immutable caching; thumbnails made once and then
//! read from disk (the encode counter does not move, the file keeps its inode and time).

use easel_sim::ModelScopeConfig;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_generated_image_is_served_with_its_type_and_immutable_caching() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let made = submit(&s, "a lighthouse");
    let done = s
        .jobs
        .wait(&made.id, std::time::Duration::from_secs(30), |_| {})
        .await
        .expect("store")
        .expect("job");
    assert_eq!(done.status.as_str(), "succeeded", "{:?}", done.error);
    let image = &done.images[0];

    let r = s.get(&format!("/gallery/img/{}/0", done.id)).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], image.mime.as_str());
    assert_eq!(h["cache-control"], "private, max-age=31536000, immutable");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-length"], image.bytes.to_string().as_str());
    let etag = h["etag"].to_str().expect("etag").to_string();
    assert_eq!(
        r.bytes().await.expect("bytes"),
        std::fs::read(&image.path).expect("file")
    );
    // A browser holding the file is answered from the store alone: the file is not opened
    // (here it is gone, which would be a 404 if it were).
    let kept = std::fs::read(&image.path).expect("file");
    std::fs::remove_file(&image.path).expect("remove");

    let again = http()
        .get(s.url(&format!("/gallery/img/{}/0", done.id)))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("conditional");
    assert_eq!(again.status(), 304);
    std::fs::write(&image.path, kept).expect("restore");

    let none = s.get(&format!("/gallery/img/{}/5", done.id)).await;
    assert_eq!(none.status(), 404);

    // Ranges, so that a browser can seek in a video: one part, the last bytes, past the end.
    let file = std::fs::read(&image.path).expect("file");
    let len = file.len();
    assert_eq!(h["accept-ranges"], "bytes");
    let ranged = |range: String| {
        http()
            .get(s.url(&format!("/gallery/img/{}/0", done.id)))
            .header("range", range)
            .send()
    };
    let part = ranged("bytes=0-9".into()).await.expect("range");
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 0-9/{len}").as_str()
    );
    assert_eq!(part.bytes().await.expect("part")[..], file[..10]);
    let tail = ranged("bytes=-5".into()).await.expect("suffix");
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.expect("tail")[..], file[len - 5..]);
    let past = ranged(format!("bytes={len}-")).await.expect("past the end");
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    let many = ranged("bytes=0-1,4-5".into()).await.expect("multi");
    assert_eq!(many.status(), 200, "several ranges get the whole file");
    assert_eq!(many.bytes().await.expect("whole")[..], file[..]);
}

#[tokio::test]
async fn a_thumbnail_is_made_once_and_then_read_from_disk() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let path = s.out().join("big.png");
    write_png(&path, 1600, 900);
    let id = "00000000000000000000000000000abc";
    s.put(&job(id, 1, json!({"images": [saved(0, &path, 1600, 900)]})));

    let before = s.gallery.thumbnails_made();
    // Requests that arrive together make it once.
    let url = format!("/gallery/thumb/{id}/0");
    let (a, b, c) = tokio::join!(s.get(&url), s.get(&url), s.get(&url));
    let mut bodies = Vec::new();
    for r in [a, b, c] {
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(
            r.headers()["cache-control"],
            "private, max-age=31536000, immutable"
        );
        bodies.push(r.bytes().await.expect("bytes"));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(s.gallery.thumbnails_made(), before + 1, "encoded once");
    let thumb = image::load_from_memory(&bodies[0]).expect("a jpeg");
    assert_eq!(
        (thumb.width(), thumb.height()),
        (400, 225),
        "shrunk within 512 px"
    );

    // On disk beside the store, not in the output root.
    let dir = s.config.data_dir.join("thumbnails");
    let files: Vec<_> = walk(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let meta = std::fs::metadata(&files[0]).expect("meta");
    let second = s.get(&format!("/gallery/thumb/{id}/0")).await;
    assert_eq!(second.bytes().await.expect("bytes"), bodies[0]);
    assert_eq!(s.gallery.thumbnails_made(), before + 1, "not encoded again");
    let after = std::fs::metadata(&files[0]).expect("meta");
    assert_eq!(
        after.modified().expect("mtime"),
        meta.modified().expect("mtime")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(after.ino(), meta.ino(), "the same file, not rewritten");
    }
    assert!(
        !walk(&s.out())
            .iter()
            .any(|p| p.to_string_lossy().contains("thumb"))
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
