//! The engine's Lua scripts. `redis::Script` runs them with EVALSHA and
//! falls back to EVAL (which loads them) when Redis answers NOSCRIPT, e.g.
//! after a restart or SCRIPT FLUSH.

use redis::Script;

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
            publish: Script::new(include_str!("lua/publish.lua")),
            read: Script::new(include_str!("lua/read.lua")),
            presence_add: Script::new(include_str!("lua/presence_add.lua")),
            presence_get: Script::new(include_str!("lua/presence_get.lua")),
        }
    }
}
