//! The HTML page listing a directory without an `index.html`. Names come
//! from untrusted blocks: each is HTML-escaped where it is shown and
//! percent-encoded where it is linked.

use cid::Cid;
use mosaic_primitives::pack::Entry;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Bytes left as they are in a path segment: RFC 3986's unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` safe to put in HTML text or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `name` as one percent-encoded path segment.
pub(crate) fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// The listing of directory `dir`, reached at `content_path` (which ends
/// with `/`), whose `entries` are sorted by name.
pub(crate) fn html(content_path: &str, dir: &Cid, entries: &[(String, Entry)]) -> String {
    let title = escape(content_path);
    let mut page = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n<h1>Index of {title}</h1>\n<p><code>{dir}</code></p>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>CID</th></tr>\n"
    );
    for (name, entry) in entries {
        let (suffix, size) = match entry {
            Entry::File(span) => ("", span.size.to_string()),
            Entry::Directory(_) => ("/", "-".to_string()),
            Entry::Symlink { .. } => ("", "symlink".to_string()),
        };
        page.push_str(&format!(
            "<tr><td><a href=\"{}{}{suffix}\">{}{suffix}</a></td><td>{size}</td><td><code>{}</code></td></tr>\n",
            escape(&encoded_path(content_path)),
            encode_segment(name),
            escape(name),
            entry.cid(),
        ));
    }
    page.push_str("</table>\n</body>\n</html>\n");
    page
}

/// The request path with every segment percent-encoded again.
fn encoded_path(content_path: &str) -> String {
    content_path
        .split('/')
        .map(|segment| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            encode_segment(&decoded)
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_primitives::pack::FileSpan;
    use mosaic_primitives::unixfs::Block;

    #[test]
    fn names_are_escaped_and_links_encoded() {
        let dir = Block::dag_pb(vec![1]).cid;
        let file = Block::dag_pb(vec![2]).cid;
        let span = FileSpan {
            cid: file,
            offset: 0,
            size: 42,
        };
        let entries = vec![
            (
                "<script>alert('x')</script> & \"q\"".to_string(),
                Entry::File(span),
            ),
            ("sub dir".to_string(), Entry::Directory(dir)),
        ];
        let page = html("/ipfs/bafy/a b/", &dir, &entries);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</a>"));
        assert!(page.contains(
            "href=\"/ipfs/bafy/a%20b/%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E%20%26%20%22q%22\""
        ));
        assert!(page.contains("href=\"/ipfs/bafy/a%20b/sub%20dir/\">sub dir/</a>"));
        assert!(page.contains("<td>42</td>"));
        assert!(page.contains(&file.to_string()));
        assert_eq!(escape("a<b"), "a&lt;b");
        assert_eq!(encode_segment("é/x"), "%C3%A9%2Fx");
    }
}
