//! What the client tells libvirt: the reply's meaning, and how a failure is reported.
//!
//! libvirt reads the hook's stdout as the new domain XML (empty = unchanged) and its exit
//! status as the verdict; on a non-zero exit the hook's stderr becomes the error `virsh`
//! shows. So a failure is one stderr line, and the exit status follows the policy.

use alloc::vec::Vec;

use crate::config::Policy;
use crate::http::{json_error_message, Response};
use crate::text::{is_space, push_one_line, push_u64};
use crate::xmldoc;

pub const PREFIX: &[u8] = b"premigration-hooks: ";
/// Longest server message quoted in the stderr line.
const MAX_QUOTED: usize = 1000;

#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Print this XML.
    Changed(Vec<u8>),
    Unchanged,
}

/// Interprets a complete response; `Err` holds the reason (without prefix).
pub fn interpret(resp: Response) -> Result<Reply, Vec<u8>> {
    match resp.status {
        200 => {
            if resp.body.iter().all(|&c| is_space(c)) {
                return Err(b"the hook server answered 200 without an XML body".to_vec());
            }
            match xmldoc::check(&resp.body) {
                Ok(()) => Ok(Reply::Changed(resp.body)),
                Err(what) => {
                    let mut why = b"the hook server answered 200 with a body that is not one complete XML document: ".to_vec();
                    why.extend_from_slice(what.as_bytes());
                    Err(why)
                }
            }
        }
        204 => Ok(Reply::Unchanged),
        422 => {
            let mut why = b"the hook server refused the domain: ".to_vec();
            match json_error_message(&resp.body) {
                Some(msg) => push_one_line(&mut why, &msg, MAX_QUOTED),
                None => why.extend_from_slice(b"(no reason given)"),
            }
            Err(why)
        }
        code => {
            let mut why = b"the hook server answered HTTP ".to_vec();
            push_u64(&mut why, u64::from(code));
            if let Some(msg) = json_error_message(&resp.body) {
                why.extend_from_slice(b": ");
                push_one_line(&mut why, &msg, MAX_QUOTED);
            }
            Err(why)
        }
    }
}

/// One stderr line: the prefix, `reason` flattened to one line, a newline.
pub fn line(reason: &[u8]) -> Vec<u8> {
    let mut line = PREFIX.to_vec();
    push_one_line(&mut line, reason, 4 * MAX_QUOTED);
    line.push(b'\n');
    line
}

/// The single stderr line for a failure, and the exit status.
pub fn failure(reason: &[u8], policy: Policy) -> (Vec<u8>, i32) {
    let mut line = line(reason);
    line.pop();
    let (tail, code): (&[u8], i32) = match policy {
        Policy::Pass => (b" (on_error=pass: continuing with the unchanged domain XML)\n", 0),
        Policy::Abort => (b" (on_error=abort: refusing the incoming domain)\n", 1),
    };
    line.extend_from_slice(tail);
    (line, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_response, Parsed};
    use crate::text::Rng;

    fn resp(status: u16, body: &[u8]) -> Response {
        Response { status, body: body.to_vec() }
    }

    #[test]
    fn ok_replies() {
        assert_eq!(interpret(resp(200, b"\n <domain/>\n")), Ok(Reply::Changed(b"\n <domain/>\n".to_vec())));
        assert_eq!(interpret(resp(204, b"")), Ok(Reply::Unchanged));
    }

    #[test]
    fn a_200_must_carry_xml() {
        for body in [&b""[..], b"   \n", b"{\"xml\":1}", b"OK"] {
            assert!(interpret(resp(200, body)).is_err());
        }
    }

    #[test]
    fn refusal_message_reaches_the_line() {
        let why = interpret(resp(422, br#"{"error":"cpu-dedicated: cannot fit 2 vCPUs\ninto cpuset 1"}"#)).unwrap_err();
        assert_eq!(why, b"the hook server refused the domain: cpu-dedicated: cannot fit 2 vCPUs into cpuset 1");
        let why = interpret(resp(500, br#"{"error":"boom"}"#)).unwrap_err();
        assert_eq!(why, b"the hook server answered HTTP 500: boom");
        let why = interpret(resp(404, b"Cannot POST")).unwrap_err();
        assert_eq!(why, b"the hook server answered HTTP 404");
        assert!(interpret(resp(201, b"<domain/>")).is_err());
    }

    #[test]
    fn failure_line_and_exit_status_follow_the_policy() {
        let (line, code) = failure(b"cannot connect", Policy::Pass);
        assert_eq!(code, 0);
        assert!(line.starts_with(b"premigration-hooks: cannot connect"));
        assert_eq!(line.iter().filter(|&&c| c == b'\n').count(), 1);
        assert_eq!(line.last(), Some(&b'\n'));
        let (line, code) = failure(b"a\nb", Policy::Abort);
        assert_eq!(code, 1);
        assert_eq!(line.iter().filter(|&&c| c == b'\n').count(), 1);
    }

    #[test]
    fn a_200_must_be_one_complete_document() {
        let why = interpret(resp(200, b"<domain><name>vm</name>")).unwrap_err();
        assert_eq!(
            why,
            b"the hook server answered 200 with a body that is not one complete XML document: it ends before the root element closes"
        );
        assert!(interpret(resp(200, b"<domain>\0</domain>")).is_err());
        assert!(interpret(resp(200, b"<domain>\xff</domain>")).is_err());
        assert!(interpret(resp(200, b"<domain/><domain/>")).is_err());
    }

    /// A KubeVirt-shaped answer, with the constructs a naive check would trip on.
    const DOMAIN: &[u8] = b"<domain type='kvm'>\n  <name>default_vm-dedicated</name>\n  \
        <uuid>5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a</uuid>\n  <memory unit='KiB'>2097152</memory>\n  \
        <vcpu placement='static' cpuset='2-3'>2</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n    \
        <vcpupin vcpu='1' cpuset='3'/>\n  </cputune>\n  <!-- pinned by premigration-hooks </domain> -->\n  \
        <description><![CDATA[a </domain> that is <not/> markup]]></description>\n  \
        <metadata><kubevirt xmlns='http://kubevirt.io'><uid note=\"a>b\"/></kubevirt></metadata>\n  <devices>\n    \
        <graphics type='vnc' passwd='s3cr\xc3\xa9t'/>\n    <memballoon model='none'/>\n  </devices>\n</domain>\n";

    /// What the client would print after receiving exactly `buf`, if anything.
    fn printed(buf: &[u8], eof: bool) -> Option<Vec<u8>> {
        match parse_response(buf, eof) {
            Parsed::Complete(r) => match interpret(r) {
                Ok(Reply::Changed(xml)) => Some(xml),
                _ => None,
            },
            _ => None,
        }
    }

    fn content_length(body: &[u8]) -> Vec<u8> {
        let mut a = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: ".to_vec();
        push_u64(&mut a, body.len() as u64);
        a.extend_from_slice(b"\r\nX-Premigration-Changes: 2\r\n\r\n");
        a.extend_from_slice(body);
        a
    }

    /// Random chunk sizes, sometimes with extensions and trailers.
    fn chunked(body: &[u8], rng: &mut Rng) -> Vec<u8> {
        const HEX: &[u8] = b"0123456789abcdef";
        let mut a = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut rest = body;
        while !rest.is_empty() {
            let n = (1 + rng.below(400)).min(rest.len());
            let mut digits = Vec::new();
            let mut v = n;
            while v > 0 {
                digits.insert(0, HEX[v % 16]);
                v /= 16;
            }
            a.extend_from_slice(&digits);
            if rng.below(4) == 0 {
                a.extend_from_slice(b";ext=1");
            }
            a.extend_from_slice(b"\r\n");
            a.extend_from_slice(&rest[..n]);
            a.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        a.extend_from_slice(if rng.below(2) == 0 { b"0\r\n\r\n" } else { b"0\r\nX-Trailer: 1\r\n\r\n" });
        a
    }

    fn trim_end(s: &[u8]) -> &[u8] {
        &s[..s.iter().rposition(|&c| !is_space(c)).map_or(0, |i| i + 1)]
    }

    #[test]
    fn a_cut_answer_is_never_printed() {
        let mut rng = Rng(0x5EED_0FC0_FFEE);
        assert_eq!(crate::xmldoc::check(DOMAIN), Ok(()));
        // Every cut of the answer, as an EOF or as a pause: never printed; whole: printed as is.
        let mut answers = vec![content_length(DOMAIN)];
        answers.extend((0..6).map(|_| chunked(DOMAIN, &mut rng)));
        for a in &answers {
            assert_eq!(printed(a, true).as_deref(), Some(DOMAIN));
            for cut in 0..a.len() {
                for eof in [false, true] {
                    assert_eq!(printed(&a[..cut], eof), None, "cut {cut} of {:?}", String::from_utf8_lossy(a));
                }
            }
        }
        // A server that frames a cut body consistently: the document check must refuse it,
        // unless only trailing whitespace was cut (then it is the same document).
        for cut in 0..DOMAIN.len() {
            let body = &DOMAIN[..cut];
            let same = trim_end(body) == trim_end(DOMAIN);
            for a in [content_length(body), chunked(body, &mut rng)] {
                assert_eq!(printed(&a, true).is_some(), same, "cut {cut}: {:?}", String::from_utf8_lossy(body));
            }
        }
        // Many random cuts of random framings, including a cut body framed as complete.
        for _ in 0..20_000 {
            let body_cut = if rng.below(2) == 0 { DOMAIN.len() } else { rng.below(DOMAIN.len()) };
            let body = &DOMAIN[..body_cut];
            let a = if rng.below(2) == 0 { content_length(body) } else { chunked(body, &mut rng) };
            let cut = rng.below(a.len() + 1);
            let got = printed(&a[..cut], rng.below(2) == 0);
            if let Some(xml) = got {
                assert_eq!(cut, a.len());
                assert_eq!(trim_end(&xml), trim_end(DOMAIN), "printed a cut document");
            }
        }
    }
}
