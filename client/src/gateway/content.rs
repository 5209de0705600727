//! A file's `Content-Type`: from its name's extension, else from its first
//! bytes (a few well-known signatures, then UTF-8 text), else octet-stream.

/// The type of a file named `name` (the last path segment, if any) that
/// starts with `head`.
pub(crate) fn content_type(name: Option<&str>, head: &[u8]) -> &'static str {
    by_extension(name).unwrap_or_else(|| sniff(head))
}

/// The type a name's extension says, if it is a known one.
pub(crate) fn by_extension(name: Option<&str>) -> Option<&'static str> {
    let (_, extension) = name?.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "text" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "car" => "application/vnd.ipld.car",
        _ => return None,
    })
}

/// The type the first bytes of a file suggest.
fn sniff(head: &[u8]) -> &'static str {
    const SIGNATURES: [(&[u8], &str); 7] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"\x1f\x8b", "application/gzip"),
        (b"PK\x03\x04", "application/zip"),
    ];
    if let Some((_, kind)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return kind;
    }
    let start = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    let trimmed = start.trim_start();
    if trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html") {
        return "text/html; charset=utf-8";
    }
    if is_text(head) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

/// Whether `head` reads as UTF-8 text without control bytes (a character
/// cut at the end is allowed).
fn is_text(head: &[u8]) -> bool {
    let head = &head[..head.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_win_then_signatures_then_text() {
        assert_eq!(
            content_type(Some("index.HTML"), b""),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Some("a.png"), b"whatever"), "image/png");
        assert_eq!(
            content_type(Some("noext"), b"\x89PNG\r\n\x1a\nrest"),
            "image/png"
        );
        assert_eq!(content_type(None, b"%PDF-1.7"), "application/pdf");
        assert_eq!(
            content_type(None, b"  <!DOCTYPE html><p>"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(None, "héllo\n".as_bytes()),
            "text/plain; charset=utf-8"
        );
        // A multi-byte character cut by the end of the sniffed bytes.
        assert_eq!(
            content_type(None, &"é".as_bytes()[..1]),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(Some("x.bin"), &[0, 1, 2, 3]),
            "application/octet-stream"
        );
        assert_eq!(content_type(None, b""), "application/octet-stream");
    }
}
