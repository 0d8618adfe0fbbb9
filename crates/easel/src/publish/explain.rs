//! What xiaohongshu-mcp's Chinese failure texts mean, in English, with what to do. The
//! service's own `details` are always shown verbatim beside this; the explanation only
//! makes them actionable for a reader (or a model) who does not read Chinese.
//! Texts are from contract 5.2 and 6.

/// Known `details` fragments, in the service's processing order.
const DETAILS: &[(&str, &str)] = &[
    (
        "标题长度超过限制",
        "title too long: the service measured the title over 20 weighted units. Shorten it (about 20 Chinese characters or 40 ASCII letters).",
    ),
    (
        "下载图片失败",
        "the service could not download an image URL (not 200, not an image, or unreachable from its machine). Use a local path on the service's machine or another URL.",
    ),
    (
        "定时发布时间格式错误",
        "schedule_at has the wrong format: use RFC 3339 with an offset, e.g. 2026-09-02T10:30:00+08:00.",
    ),
    (
        "定时发布时间必须至少在1小时后",
        "schedule_at is less than 1 hour ahead by the service's clock. Pick a later time.",
    ),
    (
        "定时发布时间不能超过14天",
        "schedule_at is more than 14 days ahead by the service's clock. Pick an earlier time.",
    ),
    (
        "没有找到发布 TAB",
        "the publish page did not load as expected: the account is probably logged out, or the website changed. Check publisher_status and log in first.",
    ),
    (
        "上传超时",
        "an image upload timed out on the website. Check the service's network and the image size, then try again.",
    ),
    (
        "上传图片失败",
        "uploading the images to the website failed. Check the service's network and the images.",
    ),
    (
        "当前输入长度为",
        "the website's own counter rejected the text as too long (the title or the body; the body allows 1000 characters). Shorten it.",
    ),
    (
        "设置定时发布失败",
        "the website would not take the schedule time. Try another time, or publish now.",
    ),
    (
        "设置可见范围失败",
        "the website would not take the visibility. Use 公开可见, 仅自己可见 or 仅互关好友可见.",
    ),
    (
        "设置原创声明失败",
        "the original-content declaration could not be set, so the service aborted the publish.",
    ),
    (
        "绑定商品失败",
        "attaching products failed (the account may have no shop).",
    ),
    (
        "等待发布按钮可点击超时",
        "the publish button never became clickable on the website (a check on the page failed). Nothing was posted; look at the note in the creator centre.",
    ),
    (
        "发布未确认成功",
        "the site did not confirm the publish: after the click the page did not leave the publish form (a check failed or the site intercepted it). The service counts this as not published; if the note shows up anyway, do not post it twice.",
    ),
];

/// The English meaning of a failure with `code` and `details`.
pub fn failure(code: Option<&str>, details: Option<&str>) -> String {
    if let Some(details) = details
        && let Some((_, meaning)) = DETAILS.iter().find(|(zh, _)| details.contains(zh))
    {
        return (*meaning).to_string();
    }
    match code {
        Some("INTERNAL_ERROR") => "the service crashed while driving its browser. When the account is logged out, this is how a publish ends (after up to 5 minutes): log in first — call publisher_status to get a QR code — then publish again.".into(),
        Some("UNAUTHORIZED") => "the service wants a bearer token: set the publisher's token_env to the variable holding the service's AUTH_TOKEN (or -token), and give easel that variable.".into(),
        Some("INVALID_REQUEST") => "the service could not read the request (a required field was empty, or a wrong type). The details name the field.".into(),
        Some("PUBLISH_FAILED") => "the service reported that publishing failed; its details above say at which step.".into(),
        _ => "the service reported a failure; its details above say why.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_texts_are_explained() {
        assert!(
            failure(Some("PUBLISH_FAILED"), Some("标题长度超过限制")).starts_with("title too long")
        );
        assert!(
            failure(
                Some("PUBLISH_FAILED"),
                Some("小红书发布失败: 发布未确认成功：点击发布后未跳转离开发布页（可能校验未过或被拦截）")
            )
            .contains("did not confirm")
        );
        assert!(failure(Some("INTERNAL_ERROR"), None).contains("log in first"));
        assert!(
            failure(
                Some("PUBLISH_FAILED"),
                Some("小红书上传图片失败: 第2张图片上传超时: 第2张图片上传超时(60s)，请检查网络连接和图片大小")
            )
            .contains("timed out")
        );
    }
}
