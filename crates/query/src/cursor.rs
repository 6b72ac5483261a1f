//! Keyset cursors: the position of a page's last item and a fingerprint of the query (and
//! organisation) it belongs to, as unpadded URL-safe base64 of a small JSON document.

use crate::sort::Position;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const MAX_CURSOR_LEN: usize = 4096;

/// Why a `page[cursor]` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("invalid page[cursor]: it is empty; leave page[cursor] out for the first page")]
    Empty,
    #[error("invalid page[cursor]: it is not a cursor this server issued")]
    Malformed,
    #[error("invalid page[cursor]: it belongs to a different filter, sort or grouping")]
    ForeignQuery,
}

#[derive(Serialize, Deserialize)]
struct CursorBody {
    v: u8,
    f: String,
    p: Position,
}

/// A fingerprint of everything a cursor is valid for.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex_prefix(&hasher.finalize())
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes the position after which the next page starts.
pub fn encode(fingerprint: &str, position: &Position) -> String {
    let body = CursorBody {
        v: VERSION,
        f: fingerprint.to_string(),
        p: position.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).expect("a cursor should serialise"))
}

/// Decodes a cursor, checking it belongs to the query with this fingerprint.
pub fn decode(cursor: &str, fingerprint: &str) -> Result<Position, CursorError> {
    if cursor.is_empty() {
        return Err(CursorError::Empty);
    }
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .map_err(|_| CursorError::Malformed)?;
    let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
    if body.v != VERSION || body.p.rank > 1 {
        return Err(CursorError::Malformed);
    }
    if body.f != fingerprint {
        return Err(CursorError::ForeignQuery);
    }
    Ok(body.p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::SortValue;

    #[test]
    fn round_trips_and_refuses_other_queries() {
        let p = Position {
            rank: 0,
            value: Some(SortValue::Str("a b".into())),
            id: "x@sha256:1".into(),
        };
        let f = fingerprint(&["org1", "name"]);
        let c = encode(&f, &p);
        assert_eq!(decode(&c, &f).unwrap(), p);
        assert_eq!(
            decode(&c, &fingerprint(&["org2", "name"])),
            Err(CursorError::ForeignQuery)
        );
        assert_eq!(decode("garbage!", &f), Err(CursorError::Malformed));
        assert_eq!(decode("", &f), Err(CursorError::Empty));
        assert_eq!(decode(&c[..c.len() - 3], &f), Err(CursorError::Malformed));
    }
}
