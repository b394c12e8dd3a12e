//! What the client tells libvirt: the reply's meaning, and how a failure is reported.
//!
//! libvirt reads the hook's stdout as the new domain XML (empty = unchanged) and its exit
//! status as the verdict; on a non-zero exit the hook's stderr becomes the error `virsh`
//! shows. So a failure is one stderr line, and the exit status follows the policy.

use alloc::vec::Vec;

use crate::config::Policy;
use crate::http::{json_error_message, Response};
use crate::text::{is_space, push_one_line, push_u64};

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
            if resp.body.iter().find(|&&c| !is_space(c)) == Some(&b'<') {
                Ok(Reply::Changed(resp.body))
            } else {
                Err(b"the hook server answered 200 without an XML body".to_vec())
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

/// The single stderr line for a failure, and the exit status.
pub fn failure(reason: &[u8], policy: Policy) -> (Vec<u8>, i32) {
    let mut line = PREFIX.to_vec();
    push_one_line(&mut line, reason, 4 * MAX_QUOTED);
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
}
