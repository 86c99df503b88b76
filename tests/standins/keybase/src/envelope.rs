//! The request and reply envelopes of `chat api` / `team api` (keybase.md §1.2–1.3): keys
//! matched case-insensitively as Go's `encoding/json` does, `id`/`jsonrpc` echoed, and the two
//! error classes: [`Fail::Abort`] (validation: stderr, non-zero exit) and [`Fail::Reply`]
//! (service errors: an `{"error": {"code": 0, …}}` line, the process carries on).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::gojson;

/// How a request failed.
#[derive(Debug)]
pub enum Fail {
    /// A request-validation error: printed on stderr, the process exits non-zero.
    Abort(String),
    /// A service error: replied as `{"error": {"code": 0, "message": …}}`.
    Reply(String),
}

/// A decoded request.
#[derive(Debug)]
pub struct Call {
    pub method: String,
    pub options: Opts,
    id: i64,
    jsonrpc: String,
}

/// The value of `key` in `obj`, exact match first, then case-insensitive.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn type_error(what: &str, v: &Value, want: &str) -> Fail {
    let got = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    Fail::Abort(format!(
        "json: cannot unmarshal {got} into Go value {what} of type {want}"
    ))
}

/// Decodes the envelope of one request.
///
/// # Errors
/// [`Fail::Abort`] for a value that is not a request object or a bad `version`.
pub fn decode(value: Value) -> Result<Call, Fail> {
    let Value::Object(obj) = value else {
        return Err(type_error("Call", &value, "client.Call"));
    };
    let method = match get_ci(&obj, "method") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(type_error("Call.Method", v, "string")),
    };
    let id = match get_ci(&obj, "id") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| type_error("Call.ID", v, "int"))?,
    };
    let jsonrpc = match get_ci(&obj, "jsonrpc") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(v) => return Err(type_error("Call.Jsonrpc", v, "string")),
    };
    let params = match get_ci(&obj, "params") {
        Some(Value::Object(p)) => Some(p.clone()),
        None | Some(Value::Null) => None,
        Some(v) => return Err(type_error("Call.Params", v, "client.Params")),
    };
    let version = match params.as_ref().and_then(|p| get_ci(p, "version")) {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| type_error("Params.Version", v, "int"))?,
    };
    if !(0..=1).contains(&version) {
        return Err(Fail::Abort(format!("invalid version {version}")));
    }
    let options = match params.as_ref().and_then(|p| get_ci(p, "options")) {
        Some(Value::Object(o)) => Some(o.clone()),
        None | Some(Value::Null) => None,
        Some(v) => return Err(type_error("Params.Options", v, "options")),
    };
    Ok(Call {
        options: Opts {
            method: method.clone(),
            map: options,
        },
        method,
        id,
        jsonrpc,
    })
}

/// A request's options, read with Go's key matching and type checks.
#[derive(Clone, Debug)]
pub struct Opts {
    method: String,
    map: Option<Map<String, Value>>,
}

impl Opts {
    /// Whether options were given at all.
    pub fn present(&self) -> bool {
        self.map.as_ref().is_some_and(|m| !m.is_empty())
    }

    /// The options as JSON, for the request log.
    pub fn json(&self) -> Value {
        self.map.clone().map_or(Value::Null, Value::Object)
    }

    /// `invalid <method> v1 options: <reason>`, a validation error.
    pub fn invalid(&self, reason: &str) -> Fail {
        Fail::Abort(format!("invalid {} v1 options: {reason}", self.method))
    }

    /// Fails with `empty options` when none were given.
    pub fn required(&self) -> Result<(), Fail> {
        if self.present() {
            Ok(())
        } else {
            Err(self.invalid("empty options"))
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.map
            .as_ref()
            .and_then(|m| get_ci(m, key))
            .filter(|v| !v.is_null())
    }

    /// A string option (absent → `None`).
    pub fn str(&self, key: &str) -> Result<Option<String>, Fail> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(type_error(key, v, "string")),
        }
    }

    /// A non-negative integer option (absent → `None`).
    pub fn u64(&self, key: &str) -> Result<Option<u64>, Fail> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| type_error(key, v, "uint")),
        }
    }

    /// A boolean option (absent → false).
    pub fn bool(&self, key: &str) -> Result<bool, Fail> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(type_error(key, v, "bool")),
        }
    }

    /// An object option, as options of its own.
    pub fn obj(&self, key: &str) -> Result<Option<Opts>, Fail> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Opts {
                method: self.method.clone(),
                map: Some(m.clone()),
            })),
            Some(v) => Err(type_error(key, v, "struct")),
        }
    }

    /// A list of non-negative integers (absent → empty).
    pub fn ids(&self, key: &str) -> Result<Vec<u64>, Fail> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_u64().ok_or_else(|| type_error(key, v, "uint")))
                .collect(),
            Some(v) => Err(type_error(key, v, "[]uint")),
        }
    }
}

#[derive(Serialize)]
struct CallError<'a> {
    code: i64,
    message: &'a str,
}

#[derive(Serialize)]
struct Reply<'a, T> {
    #[serde(skip_serializing_if = "str::is_empty")]
    jsonrpc: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<CallError<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<T>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Call {
    /// The reply line for a result.
    pub fn ok<T: Serialize>(&self, result: &T) -> String {
        gojson::line(&Reply {
            jsonrpc: &self.jsonrpc,
            id: self.id,
            error: None,
            result: Some(result),
        })
    }

    /// The reply line for a service error.
    pub fn error(&self, message: &str) -> String {
        gojson::line(&Reply::<()> {
            jsonrpc: &self.jsonrpc,
            id: self.id,
            error: Some(CallError { code: 0, message }),
            result: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_case_insensitively_and_echo() {
        let v = serde_json::json!({"METHOD": "read", "Params": {"Version": 1,
            "options": {"Channel": {"name": "a,b"}, "peek": true}}, "id": 7, "jsonrpc": "2.0"});
        let call = decode(v).unwrap();
        assert_eq!(call.method, "read");
        assert!(call.options.obj("channel").unwrap().is_some());
        assert!(call.options.bool("Peek").unwrap());
        assert_eq!(call.ok(&true), r#"{"jsonrpc":"2.0","id":7,"result":true}"#);
        let plain = decode(serde_json::json!({"method": "list"})).unwrap();
        assert_eq!(plain.error("x"), r#"{"error":{"code":0,"message":"x"}}"#);
        assert!(matches!(
            decode(serde_json::json!({"method": "x", "params": {"version": 2}})),
            Err(Fail::Abort(m)) if m == "invalid version 2"
        ));
    }
}
