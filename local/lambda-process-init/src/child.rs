//! Starting the bootstrap so that it cannot outlive the init, without `unsafe`.
//!
//! The guarantee: when the init dies for any reason (LocalStack's `killpg(SIGKILL)` after
//! the stop grace period, the OOM killer, a crash), the kernel kills the bootstrap with
//! `SIGKILL` (`PR_SET_PDEATHSIG`). Nothing else covers these cases: the bootstrap runs in
//! its own process group (so that a timeout can kill everything it started), which
//! LocalStack's `killpg` on the init's group does not reach, and a killed init runs no
//! clean-up of its own. An orphaned bootstrap would keep its memory, its connections
//! (e.g. to Postgres) and whatever it was doing.
//!
//! The parent-death signal must be set in the child, between `fork` and `exec`; std only
//! offers that through `CommandExt::pre_exec`, which is `unsafe`. So the init starts
//! *itself* (`/proc/self/exe`, which works even if the binary was replaced on disk) with
//! the hidden first argument [`EXEC_STAGE_ARG`]; in that mode (the "exec stage", see
//! [`exec_stage_if_requested`], called first thing in `main`) it sets the parent-death
//! signal with rustix's safe `prctl` wrapper, checks that the init is still its parent
//! (closing the window where the init dies before the signal is armed), and `exec`s the
//! bootstrap in place. The bootstrap thus keeps the exec stage's pid, process group,
//! environment, working directory, stdout/stderr pipes and parent-death signal (it
//! survives `execve`), exactly like the former `pre_exec` + `prctl`.
//!
//! Alternatives not taken: `setpriv --pdeathsig KILL` (util-linux) does the same but
//! makes every start depend on a separate tool being installed on the host, and turns a
//! bootstrap that cannot be executed into an exit status; only killing the process group
//! when the init exits would not cover an init that is killed.
//!
//! A failed `exec` (missing bootstrap, not executable, ...) is still reported as a start
//! failure (`Runtime.InvalidEntrypoint`) with the OS error, as `spawn` did: the exec
//! stage's stdin is the write end of a status pipe, which the exec stage keeps as a
//! close-on-exec copy. A successful `exec` closes it (the init reads end-of-file); a
//! failure writes the reason into it first. This is how std's own `spawn` learns about a
//! failed `exec`. The bootstrap's own stdin is `/dev/null`, as before.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use rustix::process::Signal;

/// First argument that makes `lambda-process-init` the exec stage of a bootstrap.
pub const EXEC_STAGE_ARG: &str = "--exec-bootstrap-with-pdeathsig";

/// Exit status of an exec stage that could not run the bootstrap (like a shell's).
const EXEC_FAILED: i32 = 127;

/// The program that becomes the bootstrap: this very binary, in its exec stage.
const SELF_EXE: &str = "/proc/self/exe";

/// A command that runs `bootstrap` through the exec stage. The caller adds the
/// environment, working directory, stdout/stderr and process group, then starts it
/// with [`spawn`] (which owns stdin).
pub fn command(bootstrap: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(SELF_EXE);
    cmd.arg(EXEC_STAGE_ARG)
        .arg(std::process::id().to_string())
        .arg(bootstrap);
    cmd
}

/// Starts `cmd` (from [`command`]) and waits until the exec stage has `exec`ed the
/// bootstrap. `Err` carries why the bootstrap could not be started.
pub fn spawn(mut cmd: tokio::process::Command) -> Result<tokio::process::Child, String> {
    let (mut status_rx, status_tx) =
        std::io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    cmd.stdin(Stdio::from(status_tx));
    let spawned = cmd.spawn();
    // Our copy of the write end lives in `cmd`: drop it, or the read below never ends.
    drop(cmd);
    let child = spawned.map_err(|e| e.to_string())?;
    // Blocks until the exec stage `exec`s or fails, as std's `spawn` blocks for `exec`.
    let mut reason = Vec::new();
    if let Err(e) = status_rx.read_to_end(&mut reason) {
        return Err(format!("cannot learn whether the bootstrap started: {e}"));
    }
    if reason.is_empty() {
        Ok(child)
    } else {
        // The exec stage exits right after writing; dropping `child` lets Tokio reap it.
        Err(String::from_utf8_lossy(&reason).into_owned())
    }
}

/// When this process was started as an exec stage (first argument [`EXEC_STAGE_ARG`]),
/// becomes the bootstrap and never returns; otherwise returns at once. Call it first
/// thing in `main`, before any thread or runtime is started.
pub fn exec_stage_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(EXEC_STAGE_ARG)) {
        return;
    }
    // A close-on-exec copy of the status pipe (our stdin), before `exec` replaces fd 0.
    let status = std::io::stdin().as_fd().try_clone_to_owned();
    let reason = exec_bootstrap(args.next(), args.next());
    // Only reached when the bootstrap was not executed.
    if let Ok(fd) = status {
        let _ = std::fs::File::from(fd).write_all(reason.as_bytes());
    }
    std::process::exit(EXEC_FAILED);
}

/// Arms the parent-death signal and `exec`s the bootstrap; returns only on failure, with
/// the reason.
fn exec_bootstrap(parent: Option<OsString>, bootstrap: Option<OsString>) -> String {
    let (Some(parent), Some(bootstrap)) = (parent, bootstrap) else {
        return format!("{EXEC_STAGE_ARG} needs the parent's pid and the bootstrap's path");
    };
    let Some(parent) = parent.to_str().and_then(|p| p.parse::<u32>().ok()) else {
        return format!("{EXEC_STAGE_ARG}: bad parent pid {parent:?}");
    };
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        return format!("cannot set the parent-death signal: {e}");
    }
    // Armed only now: if the init died in between, we were re-parented and nobody would
    // ever kill us.
    if std::os::unix::process::parent_id() != parent {
        return "lambda-process-init exited while the bootstrap was starting".to_owned();
    }
    std::process::Command::new(bootstrap)
        .stdin(Stdio::null())
        .exec()
        .to_string()
}
