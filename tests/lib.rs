//! Helpers for murmur's cross-service tests: start the real service binaries as separate
//! processes on free ports, wait for readiness, stop them with SIGTERM.
//!
//! The binaries must be built first (`cargo build --workspace --bins`, which the README's test
//! command and `.ci/run` do); the broker and Postgres come from `scripts/stack up`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The directory holding the workspace's binaries (next to this test executable's `deps/`).
pub fn binary_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

/// Path of a workspace binary, with a clear panic when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let path = binary_dir().join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --workspace --bins` before these tests", path.display());
    path
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A service binary running as a child process.
pub struct ServiceProcess {
    /// Binary name.
    pub name: String,
    /// gRPC address.
    pub grpc_addr: SocketAddr,
    /// Admin HTTP address.
    pub admin_addr: SocketAddr,
    child: Child,
    output_rx: mpsc::UnboundedReceiver<String>,
    output: Vec<String>,
}

impl ServiceProcess {
    /// Starts `name` with free gRPC/admin ports, text logs, and `extra_env` on top of the
    /// inherited environment.
    pub fn start(name: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Self {
        let grpc_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let admin_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut command = Command::new(binary(name));
        command
            .args(args)
            .env("MURMUR_GRPC_ADDR", grpc_addr.to_string())
            .env("MURMUR_ADMIN_ADDR", admin_addr.to_string())
            .env("MURMUR_LOG_FORMAT", "text")
            .env("MURMUR_GRACE_PERIOD", "10s")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let (output_tx, output_rx) = mpsc::unbounded_channel();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output_tx = output_tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = output_tx.send(line);
                }
            });
        }
        Self { name: name.to_string(), grpc_addr, admin_addr, child, output_rx, output: Vec::new() }
    }

    /// Everything the process printed so far.
    pub fn output(&mut self) -> &[String] {
        while let Ok(line) = self.output_rx.try_recv() {
            self.output.push(line);
        }
        &self.output
    }

    /// GETs an admin path; returns status and body.
    pub async fn admin_get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = reqwest::get(format!("http://{}{path}", self.admin_addr)).await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Waits until `/readyz` answers 200, panicking with the process output after `timeout`.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Ok((200, _)) = self.admin_get("/readyz").await {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let output = self.output().join("\n");
                panic!("{} exited early with {status}:\n{output}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let output = self.output().join("\n");
        panic!("{} not ready after {timeout:?}:\n{output}", self.name);
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running child has a pid")
    }

    /// Sends SIGTERM and waits for the exit status (at most `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().expect("running child has a pid");
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        self.wait_exit(timeout).await
    }

    /// Waits for the process to exit (at most `timeout`).
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(error)) => panic!("waiting for {} failed: {error}", self.name),
            Err(_) => {
                let output = self.output().join("\n");
                panic!("{} did not exit within {timeout:?}:\n{output}", self.name)
            }
        }
    }
}
