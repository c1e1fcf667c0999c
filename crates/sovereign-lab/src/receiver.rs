//! The lab's alert receiver: the webhook Alertmanager notifies in place of the SNS topic of the
//! rendered tree. It appends every notification it gets, as it got it, to a file in the lab
//! directory, one JSON object a line with the moment it arrived:
//!
//! ```json
//! {"received_unix_ms": 1764626400123, "notification": {"status": "firing", "alerts": [...]}}
//! ```
//!
//! `lab up` starts it as `sovereign lab receiver` (a hidden command) and `lab down` stops it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::LabError;

/// Requests larger than this are refused: Alertmanager's notifications are a few kilobytes.
const MAX_BODY: usize = 8 << 20;

/// Serves `listen` until killed, appending every POSTed notification to `out`.
pub fn run(listen: SocketAddr, out: &Path) -> Result<(), LabError> {
    let listener = TcpListener::bind(listen)
        .map_err(|e| LabError::io(format!("cannot listen on {listen}"), e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| LabError::io(format!("cannot open {}", out.display()), e))?;
    let file = Arc::new(Mutex::new(file));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let file = file.clone();
        let out: PathBuf = out.to_path_buf();
        std::thread::spawn(move || {
            if let Err(e) = serve(conn, &file) {
                eprintln!("receiver ({}): {e}", out.display());
            }
        });
    }
    Ok(())
}

/// One request: a POST is recorded, anything else is answered `ok` (a health probe).
fn serve(conn: TcpStream, file: &Mutex<std::fs::File>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let method = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut w = conn;
    if method != "POST" {
        return w
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n");
    }
    let body = if chunked {
        read_chunked(&mut r)?
    } else {
        if length > MAX_BODY {
            return w.write_all(
                b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
        let mut b = vec![0; length];
        r.read_exact(&mut b)?;
        b
    };
    let notification: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()));
    let received = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let record = serde_json::json!({ "received_unix_ms": received, "notification": notification });
    {
        let mut f = file
            .lock()
            .map_err(|_| std::io::Error::other("the notifications file lock is poisoned"))?;
        writeln!(f, "{record}")?;
        f.flush()?;
    }
    w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

fn read_chunked(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request too large",
            ));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

/// Every notification recorded in `path` so far (a missing file holds none).
pub fn read(path: &Path) -> Result<Vec<serde_json::Value>, LabError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(LabError::io(format!("cannot read {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_each_notification_with_its_arrival() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("notifications.jsonl");
        let port = crate::process::free_port("127.0.0.1").unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let o = out.clone();
        std::thread::spawn(move || run(addr, &o));
        crate::process::wait_for_port("127.0.0.1", port, Duration::from_secs(5), "receiver", &out)
            .unwrap();
        let post = |head: &str, body: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(format!("{head}{body}").as_bytes()).unwrap();
            let mut reply = String::new();
            s.read_to_string(&mut reply).unwrap();
            reply
        };
        let body = r#"{"status":"firing","alerts":[{"labels":{"alertname":"A"}}]}"#;
        let reply = post(
            &format!(
                "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
                body.len()
            ),
            body,
        );
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
        post(
            "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
            &chunked,
        );
        assert!(post("GET / HTTP/1.0\r\n\r\n", "").ends_with("ok\n"));
        let got = read(&out).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        for n in got {
            assert_eq!(n["notification"]["status"], "firing");
            assert!(n["received_unix_ms"].as_u64().unwrap() > 0);
        }
    }
}
