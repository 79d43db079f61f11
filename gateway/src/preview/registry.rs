//! The open preview sessions of this replica. The hit path asks [`PreviewRegistry::session_for`],
//! which is one atomic load while no session is open.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::session::Session;
use super::{SESSION_COOKIE, SESSION_HEADER};
use crate::event::RequestInfo;

/// Bounds of the preview: memory stays small whatever the number of people previewing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewSettings {
    /// How long a session lives after it starts.
    pub session_ttl: Duration,
    /// Hits kept per session; older ones are dropped.
    pub hits_per_session: usize,
    /// Sessions open at once; starting one more ends the oldest.
    pub max_sessions: usize,
}

impl Default for PreviewSettings {
    fn default() -> Self {
        PreviewSettings {
            session_ttl: Duration::from_secs(30 * 60),
            hits_per_session: 200,
            max_sessions: 16,
        }
    }
}

/// The sessions, by id.
#[derive(Debug, Default)]
pub struct PreviewRegistry {
    settings: PreviewSettings,
    /// The number of sessions in `sessions`, read without the lock by the hit path.
    open: AtomicUsize,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl PreviewRegistry {
    /// An empty registry.
    pub fn new(settings: PreviewSettings) -> Self {
        PreviewRegistry {
            settings,
            ..Default::default()
        }
    }

    /// The bounds this registry keeps.
    pub fn settings(&self) -> PreviewSettings {
        self.settings
    }

    /// The session a hit belongs to, by its cookie or header; `None` at the cost of one
    /// atomic load when no session is open.
    pub fn session_for(&self, request: &RequestInfo) -> Option<Arc<Session>> {
        if self.open.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let id = request
            .cookie(SESSION_COOKIE)
            .or_else(|| request.header(SESSION_HEADER).map(Cow::Borrowed))?;
        self.find(&id)
    }

    /// The open session with this id.
    pub fn find(&self, id: &str) -> Option<Arc<Session>> {
        let mut sessions = self.lock();
        let session = sessions.get(id)?.clone();
        if session.expired(Instant::now()) {
            sessions.remove(id);
            self.open.store(sessions.len(), Ordering::Relaxed);
            return None;
        }
        Some(session)
    }

    /// Open a session with a fresh random id, ending expired ones (and the oldest when
    /// [`PreviewSettings::max_sessions`] are open).
    pub fn start(&self, dry_run: bool) -> Arc<Session> {
        let now = Instant::now();
        let session = Arc::new(Session::new(
            uuid::Uuid::new_v4().simple().to_string(),
            now + self.settings.session_ttl,
            dry_run,
            self.settings.hits_per_session,
        ));
        let mut sessions = self.lock();
        sessions.retain(|_, s| !s.expired(now));
        while sessions.len() >= self.settings.max_sessions.max(1) {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at())
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => sessions.remove(&id),
                None => break,
            };
        }
        sessions.insert(session.id().to_string(), session.clone());
        self.open.store(sessions.len(), Ordering::Relaxed);
        session
    }

    /// End a session (its streams end with it).
    pub fn end(&self, id: &str) {
        let mut sessions = self.lock();
        sessions.remove(id);
        self.open.store(sessions.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
