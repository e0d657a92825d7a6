//! The engine's Lua scripts. `redis::Script` runs them with EVALSHA and
//! falls back to EVAL (which loads them) when Redis answers NOSCRIPT, e.g.
//! after a restart or SCRIPT FLUSH.

use redis::{Cmd, Script};

/// `lua/publish.lua`'s source, sent whole by [`ScriptCall::Source`].
pub(crate) const PUBLISH_SOURCE: &str = include_str!("lua/publish.lua");

/// How one script call reaches Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScriptCall {
    /// EVALSHA; on NOSCRIPT (after a restart or SCRIPT FLUSH), load the
    /// script and send it again. For a call on its own: a retry would
    /// overtake calls sent after it.
    Cached,
    /// EVAL with the source: never NOSCRIPT, and it caches the script for
    /// the calls behind it in the same pipeline. The first of a run.
    Source,
    /// EVALSHA once, behind a [`ScriptCall::Source`] call of the same run
    /// (Redis runs a connection's commands in order, so the script is
    /// there). NOSCRIPT (a SCRIPT FLUSH between the two) is an error, not
    /// a retry that would reorder the run.
    CachedOnce,
}

impl ScriptCall {
    /// The start of the command: `EVAL source` or `EVALSHA hash`; keys
    /// and arguments follow.
    pub(crate) fn command(self, script: &Script, source: &str) -> Cmd {
        let mut command = match self {
            ScriptCall::Source => redis::cmd("EVAL"),
            ScriptCall::Cached | ScriptCall::CachedOnce => redis::cmd("EVALSHA"),
        };
        match self {
            ScriptCall::Source => command.arg(source),
            ScriptCall::Cached | ScriptCall::CachedOnce => command.arg(script.get_hash()),
        };
        command
    }

    /// The call for position `index` of a run of `len` calls sent
    /// together.
    pub(crate) fn in_run(index: usize, len: usize) -> Self {
        match (len, index) {
            (1, _) => ScriptCall::Cached,
            (_, 0) => ScriptCall::Source,
            _ => ScriptCall::CachedOnce,
        }
    }
}

/// Every script, loaded once per broker.
#[derive(Debug)]
pub(crate) struct Scripts {
    /// `lua/publish.lua`: number, append, expire, remember, PUBLISH.
    pub(crate) publish: Script,
    /// `lua/read.lua`: position (created when missing) and a history range.
    pub(crate) read: Script,
    /// `lua/presence_add.lua`: add or refresh a member.
    pub(crate) presence_add: Script,
    /// `lua/presence_get.lua`: drop expired members, list the live ones.
    pub(crate) presence_get: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            publish: Script::new(PUBLISH_SOURCE),
            read: Script::new(include_str!("lua/read.lua")),
            presence_add: Script::new(include_str!("lua/presence_add.lua")),
            presence_get: Script::new(include_str!("lua/presence_get.lua")),
        }
    }
}
