//! Checks each incoming JSON-RPC message before rmcp sees it, so that a malformed one gets
//! the error JSON-RPC 2.0 prescribes.
//!
//! rmcp's transports cannot be configured for this: on stdio it ignores text that is not
//! JSON (no answer at all) and answers a message of the wrong shape with `-32600` and no
//! id, even when the id was readable; over Streamable HTTP it answers both with a
//! plain-text 415. A client whose request had a valid id but bad params then waits for its
//! own time-out. Here such a request gets `-32602` (invalid params) carrying its id, text
//! that is not JSON gets `-32700` with `"id": null`, and other malformed objects `-32600`
//! (with their id when it is readable).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, CancelTaskMethod, ClientJsonRpcMessage,
    ClientRequest, CompleteRequestMethod, ConstString, DiscoverRequestMethod, ErrorData,
    GetPromptRequestMethod, GetPromptRequestParams, GetSkillRequestMethod, GetTaskMethod,
    InitializeRequestParams, InitializeResultMethod, ListPromptsRequestMethod,
    ListResourceTemplatesRequestMethod, ListResourcesRequestMethod, ListSkillsRequestMethod,
    ListToolsRequestMethod, PingRequestMethod, ReadResourceDirectoryRequestMethod,
    ReadResourceRequestMethod, ReadResourceRequestParams, RequestId, SetLevelRequestMethod,
    SubscribeRequestMethod, SubscriptionsListenRequestMethod, UnsubscribeRequestMethod,
    UpdateTaskMethod,
};
use serde_json::{Value, json};

use super::limits::read_body;

/// What to do with one incoming message.
#[derive(Debug)]
pub enum Checked {
    /// Well-formed: hand it to rmcp.
    Message(Box<ClientJsonRpcMessage>),
    Rejected(Rejection),
}

/// A malformed message and the error it earns.
#[derive(Debug)]
pub struct Rejection {
    /// The request's id, when it could be read.
    pub id: Option<RequestId>,
    pub error: ErrorData,
    /// False for a malformed notification or response: JSON-RPC forbids answering those,
    /// so stdio only logs them (HTTP still owes the POST a status).
    pub answerable: bool,
}

impl Rejection {
    fn new(id: Option<RequestId>, error: ErrorData) -> Self {
        Rejection {
            id,
            error,
            answerable: true,
        }
    }

    /// The JSON-RPC error response; `"id": null` when the id could not be read (JSON-RPC
    /// 2.0 §5; rmcp would leave the member out).
    pub fn to_json(&self) -> Value {
        json!({"jsonrpc": "2.0", "id": self.id, "error": self.error})
    }

    /// Over HTTP: a request with a readable id gets its error as the (200) answer to that
    /// request; anything else is a 400 whose body is the error.
    pub fn http_response(&self) -> Response {
        let status = if self.id.is_some() && self.answerable {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut response = (status, self.to_json().to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Classifies one message (a stdio line or an HTTP body).
pub fn check(bytes: &[u8]) -> Checked {
    let shape = match serde_json::from_slice::<ClientJsonRpcMessage>(bytes) {
        Ok(message) => return known_method_fits(message),
        Err(e) => e,
    };
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => {
            return Checked::Rejected(Rejection::new(
                None,
                ErrorData::parse_error(
                    format!(
                        "Parse error: the message is not valid JSON ({e}); send one JSON-RPC 2.0 object per message"
                    ),
                    None,
                ),
            ));
        }
    };
    let Some(object) = value.as_object() else {
        return Checked::Rejected(Rejection::new(
            None,
            ErrorData::invalid_request(
                "Invalid Request: expected one JSON-RPC 2.0 object; batches (arrays) and bare values are not accepted",
                None,
            ),
        ));
    };
    let id = object
        .get("id")
        .and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok());
    let method = object.get("method").and_then(Value::as_str);
    let rejected =
        |id: Option<RequestId>, error: ErrorData| Checked::Rejected(Rejection::new(id, error));

    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return rejected(
            id,
            ErrorData::invalid_request("Invalid Request: \"jsonrpc\" must be \"2.0\"", None),
        );
    }
    if object.contains_key("id") && id.is_none() {
        return rejected(
            None,
            ErrorData::invalid_request(
                "Invalid Request: \"id\" must be a string or an integer",
                None,
            ),
        );
    }
    match (id, method) {
        // rmcp accepts any method name with object params (unknown ones get -32601 from
        // the handler), so a request that did not parse has params that are not an object.
        (Some(id), Some(method)) => rejected(
            Some(id),
            ErrorData::invalid_params(
                format!(
                    "Invalid params for {method}: {}; see the method's parameters in the MCP specification",
                    reason(&shape)
                ),
                None,
            ),
        ),
        (Some(id), None) if !is_response(object) => rejected(
            Some(id),
            ErrorData::invalid_request(
                "Invalid Request: missing \"method\" (a string naming the method to call)",
                None,
            ),
        ),
        (None, None) if !is_response(object) => rejected(
            None,
            ErrorData::invalid_request(
                "Invalid Request: missing \"method\" (a string naming the method to call)",
                None,
            ),
        ),
        (_, method) => {
            let what = match method {
                Some(m) => format!("notification {m}"),
                None => "response".to_string(),
            };
            Checked::Rejected(Rejection {
                id: None,
                error: ErrorData::invalid_params(
                    format!("Invalid {what}: {}", reason(&shape)),
                    None,
                ),
                answerable: false,
            })
        }
    }
}

/// Methods rmcp parses into their own request types. A request naming one of them whose
/// object params do not fit is parsed by rmcp as a *custom* request, which the handler
/// answers -32601 (method not found) naming only the method.
const KNOWN_METHODS: [&str; 21] = [
    InitializeResultMethod::VALUE,
    PingRequestMethod::VALUE,
    DiscoverRequestMethod::VALUE,
    CompleteRequestMethod::VALUE,
    SetLevelRequestMethod::VALUE,
    GetPromptRequestMethod::VALUE,
    ListPromptsRequestMethod::VALUE,
    ListResourcesRequestMethod::VALUE,
    ListResourceTemplatesRequestMethod::VALUE,
    ReadResourceRequestMethod::VALUE,
    SubscribeRequestMethod::VALUE,
    UnsubscribeRequestMethod::VALUE,
    SubscriptionsListenRequestMethod::VALUE,
    CallToolRequestMethod::VALUE,
    ListToolsRequestMethod::VALUE,
    GetTaskMethod::VALUE,
    UpdateTaskMethod::VALUE,
    CancelTaskMethod::VALUE,
    ListSkillsRequestMethod::VALUE,
    GetSkillRequestMethod::VALUE,
    ReadResourceDirectoryRequestMethod::VALUE,
];

/// A parsed message, unless it is a known method whose params did not fit (see
/// [`KNOWN_METHODS`]): that is -32602 with the request's id.
fn known_method_fits(message: ClientJsonRpcMessage) -> Checked {
    if let ClientJsonRpcMessage::Request(request) = &message
        && let ClientRequest::CustomRequest(custom) = &request.request
        && KNOWN_METHODS.contains(&custom.method.as_str())
    {
        let method = custom.method.as_str();
        let params = custom.params.clone().unwrap_or(Value::Null);
        let why = match method {
            "tools/call" => misfit::<CallToolRequestParams>(params),
            "resources/read" => misfit::<ReadResourceRequestParams>(params),
            "prompts/get" => misfit::<GetPromptRequestParams>(params),
            "initialize" => misfit::<InitializeRequestParams>(params),
            _ => None,
        }
        .unwrap_or_else(|| "they do not have the fields the method takes".to_string());
        return Checked::Rejected(Rejection::new(
            Some(request.id.clone()),
            ErrorData::invalid_params(
                format!(
                    "Invalid params for {method}: {why}; see the method's parameters in the MCP specification"
                ),
                None,
            ),
        ));
    }
    Checked::Message(Box::new(message))
}

/// Why `params` is not a `T`, if it is not.
fn misfit<T: serde::de::DeserializeOwned>(params: Value) -> Option<String> {
    serde_json::from_value::<T>(params)
        .err()
        .map(|e| reason(&e))
}

fn is_response(object: &serde_json::Map<String, Value>) -> bool {
    object.contains_key("result") || object.contains_key("error")
}

/// serde's message without its position suffix (positions in a one-line message say
/// little to a client).
fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// In front of rmcp's `/mcp` service: malformed POST bodies are answered here.
pub async fn mcp(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, max_body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    match check(&bytes) {
        Checked::Message(_) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Checked::Rejected(rejection) => {
            tracing::debug!(error = %rejection.error.message, "answered a malformed JSON-RPC message");
            rejection.http_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ErrorCode;

    fn rejected(text: &str) -> Rejection {
        match check(text.as_bytes()) {
            Checked::Rejected(r) => r,
            Checked::Message(m) => panic!("accepted {m:?}"),
        }
    }

    #[test]
    fn well_formed_messages_pass() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"no/such/method","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
        ] {
            assert!(matches!(check(ok.as_bytes()), Checked::Message(_)), "{ok}");
        }
    }

    #[test]
    fn each_malformed_message_gets_its_code_and_id() {
        let r =
            rejected(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{}}}"#);
        assert_eq!(r.error.code, ErrorCode::INVALID_PARAMS);
        assert_eq!(r.id, Some(RequestId::Number(7)));
        assert!(
            r.error.message.contains("tools/call"),
            "{}",
            r.error.message
        );
        assert!(r.error.message.contains("name"), "{}", r.error.message);

        let r = rejected(r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":5}"#);
        assert_eq!(
            (r.error.code, r.id),
            (ErrorCode::INVALID_PARAMS, Some(RequestId::Number(8)))
        );
        let r =
            rejected(r#"{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":3}}"#);
        assert_eq!(
            (r.error.code, r.id),
            (ErrorCode::INVALID_PARAMS, Some(RequestId::Number(9)))
        );
        assert!(r.error.message.contains("integer"), "{}", r.error.message);

        let r = rejected(r#"{"jsonrpc":"2.0","id":"x","method":"initialize","params":5}"#);
        assert_eq!(r.error.code, ErrorCode::INVALID_PARAMS);
        assert_eq!(r.id, Some(RequestId::String("x".into())));

        let r = rejected(r#"{"jsonrpc":"2.0","id":1,"method":"#);
        assert_eq!(r.error.code, ErrorCode::PARSE_ERROR);
        assert_eq!(r.to_json()["id"], Value::Null);
        assert!(r.to_json().as_object().expect("obj").contains_key("id"));

        let r = rejected("[]");
        assert_eq!(r.error.code, ErrorCode::INVALID_REQUEST);
        let r = rejected(r#"{"jsonrpc":"1.0","id":2,"method":"tools/list"}"#);
        assert_eq!(
            (r.error.code, r.id),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::Number(2)))
        );
        let r = rejected(r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#);
        assert_eq!((r.error.code, r.id), (ErrorCode::INVALID_REQUEST, None));
        let r = rejected(r#"{"jsonrpc":"2.0","id":4}"#);
        assert_eq!(
            (r.error.code, r.id),
            (ErrorCode::INVALID_REQUEST, Some(RequestId::Number(4)))
        );

        let r = rejected(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":7}"#);
        assert!(!r.answerable);
    }
}
