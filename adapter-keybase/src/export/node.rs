//! An order-keeping, lenient JSON tree for the loosely-typed parts of a line (reactions,
//! attachment objects, system messages): keys stay in file order (who reacted first comes
//! first) and an unexpected type is kept as [`Node::Other`] for the caller to report, never a
//! parse failure.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value, reduced to what the reader looks at.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// An object, keys in file order (duplicates kept).
    Object(Vec<(String, Node)>),
    /// A string.
    Str(String),
    /// A non-negative integer.
    Uint(u64),
    /// An array.
    Array(Vec<Node>),
    /// Anything else (other number, bool, null): present but not looked into.
    Other,
}

impl Node {
    /// The object's entries, if this is an object.
    pub(crate) fn as_object(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub(crate) fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The first value under `key`, if this is an object that has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A short name of the JSON type, for reports.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Object(_) => "object",
            Node::Str(_) => "string",
            Node::Uint(_) => "integer",
            Node::Array(_) => "array",
            Node::Other => "non-object value",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Node::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Uint(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(u64::try_from(v).map_or(Node::Other, Node::Uint))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_tolerates_anything() {
        let n: Node =
            serde_json::from_str(r#"{"z":{"b":1,"a":[1,{"x":2}]},"a":"s","n":null,"f":1.5}"#)
                .unwrap();
        let keys: Vec<_> = n
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["z", "a", "n", "f"]);
        assert_eq!(n.get("z").unwrap().get("b"), Some(&Node::Uint(1)));
        assert_eq!(n.get("a").unwrap().as_str(), Some("s"));
        assert_eq!(n.get("f"), Some(&Node::Other));
        let a = n.get("z").unwrap().get("a").unwrap().as_array().unwrap();
        assert_eq!((a.len(), a[1].get("x")), (2, Some(&Node::Uint(2))));
    }
}
