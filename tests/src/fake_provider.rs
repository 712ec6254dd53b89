//! What the fake payment providers share: a server on a free port and injected faults.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::Router;
use serde_json::Value;

/// One injected fault.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Wait this long before answering (longer than the client's timeout: a timeout).
    Delay(Duration),
    /// Answer this status and JSON body.
    Status(u16, Value),
}

/// Faults for the next requests, in order (the fake then behaves normally).
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<VecDeque<Fault>>>);

impl Faults {
    /// Queues a fault for the next request not yet served.
    pub fn push(&self, fault: Fault) {
        self.0.lock().unwrap().push_back(fault);
    }

    /// The next fault, if any.
    pub fn next(&self) -> Option<Fault> {
        self.0.lock().unwrap().pop_front()
    }
}

/// Serves `app` on a free port of 127.0.0.1 on the current runtime.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}
