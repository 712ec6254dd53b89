//! Local fakes of the services maef sends to, speaking their real wire formats: an SMTP
//! server (RFC 5321 over TCP: greeting, EHLO, MAIL, RCPT, DATA with dot-stuffing, RSET,
//! QUIT) that can refuse messages on request, and an HTTP receiver of webhooks that
//! records every request and answers as scripted. Both listen on 127.0.0.1 only.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// A message the fake SMTP server accepted.
#[derive(Debug, Clone)]
pub struct SmtpMessage {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed (headers and MIME body).
    pub data: Vec<u8>,
}

#[derive(Default)]
struct SmtpState {
    accepted: Vec<SmtpMessage>,
    /// Replies to give at the end of the next messages' DATA instead of accepting
    /// them (`451 …` temporary, `550 …` permanent).
    refusals: VecDeque<String>,
    /// Messages refused so far.
    refused: usize,
    /// How long to wait before answering the end of DATA (a slow server).
    delay: Duration,
}

/// A fake SMTP server on 127.0.0.1.
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<SmtpState>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    /// Starts listening.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(SmtpState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(smtp_session(socket, shared.clone()));
            }
        });
        Self { addr, state, task }
    }

    /// `SMTP_URL` for maef-worker.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The next message will be refused with this reply (e.g. `451 4.3.0 try later`).
    pub fn refuse_next(&self, reply: &str) {
        self.state.lock().unwrap().refusals.push_back(reply.to_string());
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Every message's end of DATA is answered after `delay`.
    pub fn slow(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// How many messages were refused so far.
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn smtp_session(socket: tokio::net::TcpStream, state: Arc<Mutex<SmtpState>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let reply = |text: String| {
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes
    };
    if write
        .write_all(&reply("220 fake.smtp.test ESMTP ready".into()))
        .await
        .is_err()
    {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => "250-fake.smtp.test\r\n250-8BITMIME\r\n250 SMTPUTF8".to_string(),
            "HELO" => "250 fake.smtp.test".into(),
            "MAIL" => {
                from = angle(&command);
                to.clear();
                "250 2.1.0 OK".into()
            }
            "RCPT" => {
                to.push(angle(&command));
                "250 2.1.5 OK".into()
            }
            "DATA" => {
                if write
                    .write_all(&reply("354 end with <CRLF>.<CRLF>".into()))
                    .await
                    .is_err()
                {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    match lines.read_until(b'\n', &mut raw).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if raw == b".\r\n" {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 4.5.2): a leading dot was doubled.
                    let unstuffed = if raw.starts_with(b"..") {
                        &raw[1..]
                    } else {
                        &raw[..]
                    };
                    data.extend_from_slice(unstuffed);
                }
                let delay = state.lock().unwrap().delay;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let mut s = state.lock().unwrap();
                match s.refusals.pop_front() {
                    Some(refusal) => {
                        s.refused += 1;
                        refusal
                    }
                    None => {
                        s.accepted.push(SmtpMessage {
                            mail_from: from.clone(),
                            rcpt_to: to.clone(),
                            data,
                        });
                        format!("250 2.0.0 queued as {}", s.accepted.len())
                    }
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "QUIT" => {
                let _ = write.write_all(&reply("221 2.0.0 bye".into())).await;
                return;
            }
            _ => "502 5.5.2 command not recognised".into(),
        };
        if write.write_all(&reply(answer)).await.is_err() {
            return;
        }
    }
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn angle(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_string())
        .unwrap_or_default()
}

/// A request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// The path it was sent to (each endpoint of a test gets its own).
    pub path: String,
    /// Its headers (names lower-case).
    pub headers: HeaderMap,
    /// Its body, as sent.
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// A header as text.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Default)]
struct ReceiverState {
    requests: Vec<WebhookRequest>,
    /// Scripted answers (status, delay before answering), used in order; then 200.
    script: VecDeque<(u16, Duration)>,
    /// The answer once the script is used up.
    otherwise: Option<u16>,
}

/// A webhook receiver on 127.0.0.1.
pub struct WebhookReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// Starts listening; every request is recorded, then answered as scripted.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = axum::Router::new().fallback(receive).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these statuses, in order (then 200, or [`Self::always`]).
    pub fn answer(&self, statuses: &[u16]) {
        let mut s = self.state.lock().unwrap();
        s.script
            .extend(statuses.iter().map(|&code| (code, Duration::ZERO)));
    }

    /// The next request is answered 200 after `delay`.
    pub fn answer_slowly(&self, delay: Duration) {
        self.state.lock().unwrap().script.push_back((200, delay));
    }

    /// Every request past the script gets this status.
    pub fn always(&self, status: u16) {
        self.state.lock().unwrap().otherwise = Some(status);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<WebhookRequest> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let (status, delay) = {
        let mut s = state.lock().unwrap();
        s.requests.push(WebhookRequest {
            path: uri.path().to_string(),
            headers,
            body: body.to_vec(),
        });
        let otherwise = s.otherwise.unwrap_or(200);
        s.script.pop_front().unwrap_or((otherwise, Duration::ZERO))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (
        StatusCode::from_u16(status).unwrap(),
        format!("answered {status}"),
    )
}
