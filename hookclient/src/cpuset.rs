//! Where the client's own cpuset is, and how to read it.
//!
//! The client runs inside `compute` (libvirt forks it), so the cpuset of its own cgroup is
//! the set of CPUs the target qemu may use. The fixed paths `/sys/fs/cgroup/cpuset.cpus.effective`
//! (v2) and `/sys/fs/cgroup/cpuset/cpuset.cpus` (v1) are right only inside a cgroup namespace;
//! joining the path from `/proc/self/cgroup` with the mount from `/proc/self/mountinfo` is
//! right everywhere (a container, a host, a test that moves a daemon into a cgroup).
//! A cgroup whose file is empty or absent inherits from its parent, so the search walks up
//! to the mount point. `Cpus_allowed_list` in `/proc/self/status` is the last resort.

use alloc::vec::Vec;

use crate::text::{lines, parse_u64, trim};

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Source {
    Cgroup2,
    Cgroup1,
    ProcStatus,
}

impl Source {
    /// Value of the `X-Premigration-Cpuset-Source` header.
    pub fn name(self) -> &'static [u8] {
        match self {
            Source::Cgroup2 => b"cgroup2",
            Source::Cgroup1 => b"cgroup1",
            Source::ProcStatus => b"proc-status",
        }
    }
}

pub const PROC_CGROUP: &[u8] = b"/proc/self/cgroup";
pub const PROC_MOUNTINFO: &[u8] = b"/proc/self/mountinfo";
pub const PROC_STATUS: &[u8] = b"/proc/self/status";
const V2_FILE: &[u8] = b"cpuset.cpus.effective";
const V1_FILE: &[u8] = b"cpuset.cpus";
const FIXED_V2: &[u8] = b"/sys/fs/cgroup/cpuset.cpus.effective";
const FIXED_V1: &[u8] = b"/sys/fs/cgroup/cpuset/cpuset.cpus";

/// The files to try, in order; the first one holding a valid, non-empty list wins.
pub fn plan(proc_cgroup: &[u8], mountinfo: &[u8]) -> Vec<(Source, Vec<u8>)> {
    let (v2_path, v1_path) = own_cgroups(proc_cgroup);
    let (v2_mounts, v1_mounts) = cgroup_mounts(mountinfo);
    let mut out = Vec::new();
    if let Some(path) = v2_path {
        walk_up(&mut out, Source::Cgroup2, &v2_mounts, path, V2_FILE);
    }
    if let Some(path) = v1_path {
        walk_up(&mut out, Source::Cgroup1, &v1_mounts, path, V1_FILE);
    }
    for (source, fixed) in [(Source::Cgroup2, FIXED_V2), (Source::Cgroup1, FIXED_V1)] {
        if !out.iter().any(|(_, p)| p == fixed) {
            out.push((source, fixed.to_vec()));
        }
    }
    out
}

/// The cgroup paths of this process: the v2 (`0::`) path and the v1 path of the hierarchy
/// that has the cpuset controller.
pub fn own_cgroups(text: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut v2, mut v1) = (None, None);
    for line in lines(text) {
        let line = trim(line);
        let mut fields = line.splitn(3, |&c| c == b':');
        let (Some(id), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if id == b"0" && controllers.is_empty() {
            v2 = Some(path);
        } else if controllers.split(|&c| c == b',').any(|c| c == b"cpuset") {
            v1 = Some(path);
        }
    }
    (v2, v1)
}

#[derive(Debug, PartialEq, Eq)]
pub struct Mount {
    /// The cgroup path that appears at `point` (`/` unless a subtree was bind-mounted).
    pub root: Vec<u8>,
    pub point: Vec<u8>,
}

/// The cgroup2 mounts and the v1 mounts that carry the cpuset controller.
pub fn cgroup_mounts(mountinfo: &[u8]) -> (Vec<Mount>, Vec<Mount>) {
    let (mut v2, mut v1) = (Vec::new(), Vec::new());
    for line in lines(mountinfo) {
        // id parent major:minor root mount-point options [optional...] - fstype source super-options
        let fields: Vec<&[u8]> = line.split(|&c| c == b' ').filter(|f| !f.is_empty()).collect();
        let Some(dash) = fields.iter().position(|f| *f == b"-") else { continue };
        if dash < 5 {
            continue;
        }
        let (Some(fstype), Some(super_opts)) = (fields.get(dash + 1), fields.get(dash + 3)) else { continue };
        let mount = Mount { root: unescape(fields[3]), point: unescape(fields[4]) };
        if *fstype == b"cgroup2" {
            v2.push(mount);
        } else if *fstype == b"cgroup" && super_opts.split(|&c| c == b',').any(|o| o == b"cpuset") {
            v1.push(mount);
        }
    }
    (v2, v1)
}

/// Pushes `<dir>/<file>` for the cgroup directory and each parent up to the mount point.
fn walk_up(out: &mut Vec<(Source, Vec<u8>)>, source: Source, mounts: &[Mount], path: &[u8], file: &[u8]) {
    if path.first() != Some(&b'/') || path.split(|&c| c == b'/').any(|seg| seg == b"..") {
        return; // outside our cgroup namespace ("/../x") or not a path: cannot be resolved
    }
    for mount in mounts {
        let Some(rel) = relative_to(path, &mount.root) else { continue };
        let mut dir = mount.point.clone();
        if dir.last() == Some(&b'/') {
            dir.pop(); // a cgroupfs mounted at "/": keep paths single-slashed
        }
        let base = dir.len();
        for seg in rel.split(|&c| c == b'/').filter(|s| !s.is_empty()) {
            dir.push(b'/');
            dir.extend_from_slice(seg);
        }
        loop {
            let mut file_path = dir.clone();
            if file_path.last() != Some(&b'/') {
                file_path.push(b'/');
            }
            file_path.extend_from_slice(file);
            out.push((source, file_path));
            if dir.len() <= base {
                break;
            }
            let cut = dir.iter().rposition(|&c| c == b'/').unwrap_or(0).max(base);
            dir.truncate(cut);
        }
        return;
    }
}

/// `path` relative to `root`, if `path` is `root` or below it.
fn relative_to<'a>(path: &'a [u8], root: &[u8]) -> Option<&'a [u8]> {
    if root == b"/" {
        return Some(path);
    }
    let rest = path.strip_prefix(root)?;
    (rest.is_empty() || rest[0] == b'/').then_some(rest)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let octal = s.get(i + 1..i + 4).filter(|d| s[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(((d[0] - b'0') << 6) | ((d[1] - b'0') << 3) | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// The trimmed list if it is a valid, non-empty cpu list such as `0-3,8,10-11`.
pub fn valid_list(s: &[u8]) -> Option<&[u8]> {
    let s = trim(s);
    if s.is_empty() {
        return None;
    }
    for item in s.split(|&c| c == b',') {
        let mut bounds = item.splitn(2, |&c| c == b'-');
        let lo = parse_u64(bounds.next()?)?;
        if let Some(hi) = bounds.next() {
            if parse_u64(hi)? < lo {
                return None;
            }
        }
    }
    Some(s)
}

/// `Cpus_allowed_list` from `/proc/self/status`.
pub fn status_cpus_allowed(status: &[u8]) -> Option<&[u8]> {
    lines(status).find_map(|line| line.strip_prefix(b"Cpus_allowed_list:")).and_then(valid_list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_V1_MOUNTINFO: &[u8] = b"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    fn paths(plan: &[(Source, Vec<u8>)]) -> Vec<(Source, String)> {
        plan.iter().map(|(s, p)| (*s, String::from_utf8(p.clone()).unwrap())).collect()
    }

    #[test]
    fn hybrid_host_walks_v2_then_v1_up_to_the_mount() {
        let cgroup = b"9:name=systemd:/\n3:cpuset:/e2e/b\n1:cpu:/\n0::/\n";
        let got = paths(&plan(cgroup, HOST_V1_MOUNTINFO));
        let want = [
            (Source::Cgroup2, "/sys/fs/cgroup/unified/cpuset.cpus.effective"),
            (Source::Cgroup1, "/sys/fs/cgroup/cpuset/e2e/b/cpuset.cpus"),
            (Source::Cgroup1, "/sys/fs/cgroup/cpuset/e2e/cpuset.cpus"),
            (Source::Cgroup1, "/sys/fs/cgroup/cpuset/cpuset.cpus"),
            (Source::Cgroup2, "/sys/fs/cgroup/cpuset.cpus.effective"),
        ];
        assert_eq!(got, want.map(|(s, p)| (s, p.to_string())));
    }

    #[test]
    fn pod_with_cgroup_namespace_v2() {
        let mountinfo = b"1220 1211 0:27 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw,nsdelegate\n";
        let got = paths(&plan(b"0::/\n", mountinfo));
        assert_eq!(
            got,
            [
                (Source::Cgroup2, "/sys/fs/cgroup/cpuset.cpus.effective".to_string()),
                (Source::Cgroup1, "/sys/fs/cgroup/cpuset/cpuset.cpus".to_string()),
            ]
        );
    }

    #[test]
    fn v2_host_path_without_namespace_and_bind_mounted_root() {
        let cgroup = b"0::/kubepods.slice/pod1/cri-abc.scope\n";
        let mountinfo = b"30 1 0:26 /kubepods.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let got = paths(&plan(cgroup, mountinfo));
        assert_eq!(got[0].1, "/sys/fs/cgroup/pod1/cri-abc.scope/cpuset.cpus.effective");
        assert_eq!(got[1].1, "/sys/fs/cgroup/pod1/cpuset.cpus.effective");
        assert_eq!(got[2].1, "/sys/fs/cgroup/cpuset.cpus.effective");
        assert_eq!(got.len(), 4); // + fixed v1
    }

    #[test]
    fn unresolvable_paths_fall_back_to_fixed_paths() {
        // Outside our namespace, or not under the mount's root.
        let mountinfo = b"30 1 0:26 /other /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        for cgroup in [&b"0::/../../x\n"[..], b"0::/kubepods/x\n", b"garbage", b""] {
            let got = paths(&plan(cgroup, mountinfo));
            assert_eq!(got.len(), 2, "{:?}", String::from_utf8_lossy(cgroup));
        }
    }

    #[test]
    fn combined_v1_controllers_and_escaped_mount_points() {
        let cgroup = b"4:cpu,cpuset:/a b\n";
        let mountinfo = b"50 31 0:40 / /mnt/cg\\040v1 rw - cgroup cgroup rw,cpu,cpuset\n";
        let got = paths(&plan(cgroup, mountinfo));
        assert_eq!(got[0], (Source::Cgroup1, "/mnt/cg v1/a b/cpuset.cpus".to_string()));
        assert_eq!(got[1], (Source::Cgroup1, "/mnt/cg v1/cpuset.cpus".to_string()));
    }

    #[test]
    fn own_cgroups_reads_v2_and_cpuset_lines() {
        assert_eq!(own_cgroups(b"3:cpuset:/x\n0::/y\n"), (Some(&b"/y"[..]), Some(&b"/x"[..])));
        assert_eq!(own_cgroups(b"3:cpuset2:/x\n"), (None, None));
    }

    #[test]
    fn validates_cpu_lists() {
        assert_eq!(valid_list(b"0-3,8,10-11\n"), Some(&b"0-3,8,10-11"[..]));
        assert_eq!(valid_list(b"5"), Some(&b"5"[..]));
        for bad in [&b""[..], b"\n", b"3-1", b"a", b"1,,2", b"1-", b"-1", b"0-3 5", b"1-2-3"] {
            assert_eq!(valid_list(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn reads_cpus_allowed_list_from_status() {
        let status = b"Name:\tx\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";
        assert_eq!(status_cpus_allowed(status), Some(&b"0-1"[..]));
        assert_eq!(status_cpus_allowed(b"Name:\tx\n"), None);
    }
}
