//! A cheap whole-document check of a 200 body before it goes to libvirt.
//!
//! HTTP framing (http.rs) proves the body arrived as the server sent it; this proves the
//! server sent one whole XML document, so that a truncated or mangled answer never becomes
//! a domain definition. It is a single pass with a stack of open element names, not a
//! parser (no entities, attributes or namespaces are interpreted):
//!
//! - valid UTF-8 and no NUL byte (libvirt reads the hook's output as a C string: a NUL would
//!   silently cut the document there);
//! - an optional XML declaration (at the very start), then comments and whitespace;
//! - exactly one root element that closes: every end tag matches the innermost open element,
//!   and the root's end tag (or its `/>`) is followed by nothing but whitespace.
//!
//! Comments, CDATA sections and processing instructions inside the root are skipped whole,
//! and quoted attribute values may contain `>`. A DOCTYPE is refused: libvirt never writes
//! one, and its internal subset would need a real parser.

use alloc::vec::Vec;

use crate::text::{find, is_space};

/// `Ok` if `doc` is one complete XML document, else a short reason.
pub fn check(doc: &[u8]) -> Result<(), &'static str> {
    if doc.contains(&0) {
        return Err("it contains a NUL byte");
    }
    if core::str::from_utf8(doc).is_err() {
        return Err("it is not valid UTF-8");
    }
    let mut p = 0;
    if doc.starts_with(b"<?xml") && doc.get(5).is_some_and(|&c| is_space(c)) {
        p = skip_past(doc, 5, b"?>").ok_or("unterminated XML declaration")?;
    }
    // Prolog: whitespace and comments.
    loop {
        p = skip_space(doc, p);
        if doc[p..].starts_with(b"<!--") {
            p = skip_past(doc, p + 4, b"-->").ok_or("unterminated comment")?;
        } else {
            break;
        }
    }
    if p == doc.len() {
        return Err("no root element");
    }
    if doc[p] != b'<' || doc[p..].starts_with(b"</") || doc[p..].starts_with(b"<!") || doc[p..].starts_with(b"<?") {
        return Err("no root element where one must start");
    }
    let mut open: Vec<&[u8]> = Vec::new();
    loop {
        // Here doc[p] == b'<'.
        let rest = &doc[p..];
        if rest.starts_with(b"<!--") {
            p = skip_past(doc, p + 4, b"-->").ok_or("unterminated comment")?;
        } else if rest.starts_with(b"<![CDATA[") {
            p = skip_past(doc, p + 9, b"]]>").ok_or("unterminated CDATA section")?;
        } else if rest.starts_with(b"<?") {
            p = skip_past(doc, p + 2, b"?>").ok_or("unterminated processing instruction")?;
        } else if rest.starts_with(b"<!") {
            return Err("a DOCTYPE or other declaration inside the document");
        } else if rest.starts_with(b"</") {
            let name = name_at(doc, p + 2).ok_or("malformed end tag")?;
            let q = skip_space(doc, p + 2 + name.len());
            if doc.get(q) != Some(&b'>') {
                return Err(if q == doc.len() { "it ends inside an end tag" } else { "malformed end tag" });
            }
            if open.pop() != Some(name) {
                return Err("an end tag does not match the open element");
            }
            p = q + 1;
            if open.is_empty() {
                break;
            }
        } else {
            let name = name_at(doc, p + 1).ok_or("malformed start tag")?;
            let (end, self_closing) = start_tag_end(doc, p + 1 + name.len())?;
            p = end;
            if !self_closing {
                open.push(name);
            } else if open.is_empty() {
                break; // a self-closing root
            }
        }
        // Character data up to the next markup.
        match doc[p..].iter().position(|&c| c == b'<') {
            Some(i) => p += i,
            None => return Err("it ends before the root element closes"),
        }
    }
    if skip_space(doc, p) != doc.len() {
        return Err("content after the root element");
    }
    Ok(())
}

fn skip_space(doc: &[u8], mut p: usize) -> usize {
    while p < doc.len() && is_space(doc[p]) {
        p += 1;
    }
    p
}

/// Index just past the first `end` at or after `from`.
fn skip_past(doc: &[u8], from: usize, end: &[u8]) -> Option<usize> {
    find(doc.get(from..)?, end).map(|i| from + i + end.len())
}

/// The element name starting at `p` (ASCII name rules, any non-ASCII byte allowed).
fn name_at(doc: &[u8], p: usize) -> Option<&[u8]> {
    let first = *doc.get(p)?;
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b':' || first >= 0x80) {
        return None;
    }
    let len = doc[p..].iter().take_while(|&&c| c.is_ascii_alphanumeric() || b"_:-.".contains(&c) || c >= 0x80).count();
    Some(&doc[p..p + len])
}

/// From just after a start tag's name: the index past its `>` and whether it was `/>`.
fn start_tag_end(doc: &[u8], mut p: usize) -> Result<(usize, bool), &'static str> {
    match doc.get(p) {
        None => return Err("it ends inside a start tag"),
        Some(&c) if !(is_space(c) || c == b'/' || c == b'>') => return Err("malformed start tag"),
        Some(_) => {}
    }
    let mut slash = false;
    while let Some(&c) = doc.get(p) {
        match c {
            b'"' | b'\'' => {
                let close = doc[p + 1..].iter().position(|&q| q == c).ok_or("it ends inside an attribute value")?;
                p += close + 2;
                slash = false;
                continue;
            }
            b'>' => return Ok((p + 1, slash)),
            b'<' => return Err("'<' inside a start tag"),
            b'/' => slash = true,
            c if is_space(c) => {}
            _ => slash = false,
        }
        p += 1;
    }
    Err("it ends inside a start tag")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_whole_documents() {
        for doc in [
            &b"<domain/>"[..],
            b"<domain/>\n",
            b"  \n<domain type='kvm'>\n  <name>vm</name>\n</domain>\n",
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a comment -->\n<domain><vcpu/></domain>",
            b"<d a='x>y' b=\"'/>\" c = 'z' ><e/><!-- </d> --><![CDATA[</d><x>]]><?pi </d>?></d  >",
            b"<a><a><a/></a></a>",
            b"<ns:dom xmlns:ns='u'><ns:x/></ns:dom >",
            "<domain><description>caf\u{e9} \u{1F600}</description></domain>".as_bytes(),
            b"<d>a &gt; b &amp; c</d>",
        ] {
            assert_eq!(check(doc), Ok(()), "{:?}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn refuses_a_body_that_merely_starts_with_lt() {
        for (doc, why) in [
            (&b"<"[..], "malformed start tag"),
            (b"<domain", "it ends inside a start tag"),
            (b"<domain type='kvm", "it ends inside an attribute value"),
            (b"<domain type='kvm'>", "it ends before the root element closes"),
            (b"<domain><name>vm</name>", "it ends before the root element closes"),
            (b"<domain><name>vm</name></dom", "it ends inside an end tag"),
            (b"<domain><name>vm</domain>", "an end tag does not match the open element"),
            (b"<domain></domain><domain></domain>", "content after the root element"),
            (b"<domain/><x/>", "content after the root element"),
            (b"<domain></domain>trailing", "content after the root element"),
            (b"<domain></domain><!-- c -->", "content after the root element"),
            (b"<domain><!-- unterminated", "unterminated comment"),
            (b"<domain><![CDATA[x", "unterminated CDATA section"),
            (b"<<domain/>", "malformed start tag"),
            (b"<1domain/>", "malformed start tag"),
            (b"<domain<x/>", "malformed start tag"),
            (b"<domain a='1'<x/>", "'<' inside a start tag"),
            (b"</domain>", "no root element where one must start"),
            (b"<!DOCTYPE domain><domain/>", "no root element where one must start"),
            (b"<domain><!DOCTYPE x></domain>", "a DOCTYPE or other declaration inside the document"),
            (b"text<domain/>", "no root element where one must start"),
            (b"<?xml version='1.0'", "unterminated XML declaration"),
            (b"<?xml version='1.0'?>", "no root element"),
            (b"", "no root element"),
            (b" \n ", "no root element"),
        ] {
            assert_eq!(check(doc), Err(why), "{:?}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn refuses_nul_and_invalid_utf8() {
        assert_eq!(check(b"<domain>\0</domain>"), Err("it contains a NUL byte"));
        assert_eq!(check(b"<domain/>\0"), Err("it contains a NUL byte"));
        assert_eq!(check(b"<domain>\xff</domain>"), Err("it is not valid UTF-8"));
        // A multi-byte character cut in half is invalid UTF-8 even though the tags close.
        assert_eq!(check(b"<d>\xc3</d>"), Err("it is not valid UTF-8"));
        assert_eq!(check(b"<d>\xed\xa0\x80</d>"), Err("it is not valid UTF-8"));
        // a UTF-16 surrogate
    }

    #[test]
    fn every_proper_prefix_of_a_document_is_refused() {
        let doc = b"<?xml version='1.0'?>\n<!-- c --><domain type='kvm' id=\"a>b\"><name>vm</name><x/><![CDATA[</domain>]]></domain>";
        assert_eq!(check(doc), Ok(()));
        for cut in 0..doc.len() {
            assert!(check(&doc[..cut]).is_err(), "cut {cut}: {:?}", String::from_utf8_lossy(&doc[..cut]));
        }
    }
}
