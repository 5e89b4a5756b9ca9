using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Adb.Daemon.Native;
using Adb.Daemon.Services;
using Adb.Protocol;
using Microsoft.Extensions.Logging;

namespace Adb.Daemon;

/// <summary>
/// The daemon: TCP listener, the set of host connections, key store and audit log, and daemon-wide state
/// (root mode, serving identity). <c>root:</c>/<c>unroot:</c>/<c>reboot:</c>/<c>tcpip:</c> "restart" in-process:
/// every connection is closed while the listener stays up, so Debian's server reconnects after 250 ms.
/// </summary>
internal sealed class AdbDaemon : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<AdbConnection, byte> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private volatile List<AuthorizedKey> _keys = [];
    private (DateTime, long) _keysStamp, _pendingStamp;
    private readonly Lock _restartLock = new();

    public DaemonOptions Options { get; }
    public KeyStore Store { get; }
    public AuditLog Audit { get; }
    public ServiceDispatcher Services { get; }
    public AdbBanner Banner { get; }

    /// <summary>Identity services run as by default (the unprivileged serving user).</summary>
    public Identity ServingUser { get; }

    /// <summary>Daemon-wide root mode (toggled by root:/unroot:, reset by reboot:).</summary>
    public bool RootMode { get; set; }

    /// <summary>Port currently listened on.</summary>
    public int Port { get; private set; }

    public ILoggerFactory Loggers => _loggers;

    public AdbDaemon(DaemonOptions options, ILoggerFactory loggers)
    {
        Options = options;
        _loggers = loggers;
        _log = loggers.CreateLogger("adbd");
        Store = new KeyStore(options.KeysFile);
        Audit = new AuditLog(options.AuditLog);
        Banner = AdbBanner.Device(options.ProductName, options.Model, options.Device, AdbFeatures.Daemon);
        Services = new ServiceDispatcher(this, loggers.CreateLogger("adbd.services"));
        string user = options.User ?? (Identity.ProcessIsRoot ? "nobody" : Identity.Process.Name);
        ServingUser = Identity.Lookup(user) ?? throw new ArgumentException($"unknown user '{user}'");
        if (!Identity.ProcessIsRoot && ServingUser.Uid != Identity.Process.Uid)
            throw new ArgumentException($"--user {user} needs adbd to be started as root");
    }

    /// <summary>Identity for a connection: root when root mode is on and its key holds the root capability.</summary>
    public Identity IdentityFor(AdbConnection c) =>
        RootMode && Options.AllowRoot && c.Key?.Capabilities.Root == true && Identity.ProcessIsRoot
            ? Identity.Lookup("0") ?? ServingUser
            : ServingUser;

    public async Task StartAsync()
    {
        ReloadKeys(force: true);
        StartListener(Options.Port);
        _ = Task.Run(PollKeysAsync);
        await Task.CompletedTask;
    }

    private void StartListener(int port)
    {
        var listener = new TcpListener(IPAddress.Parse(Options.Bind), port);
        Adb.Protocol.ListenSocket.SetReuseAddressOnly(listener.Server);
        listener.Start(64);
        _listener = listener;
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _log.LogInformation("adbd listening on {Bind}:{Port} (serving as {User}, keys {Keys}, root {Root})",
            Options.Bind, Port, ServingUser.Name, Store.KeysPath, Options.AllowRoot ? "allowed" : "disabled");
        _acceptLoop = Task.Run(() => AcceptLoopAsync(listener));
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try { s = await listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception) when (_stop.IsCancellationRequested || listener != _listener) { return; }
            catch (SocketException ex) { _log.LogWarning("accept failed: {Message}", ex.Message); continue; }
            catch (ObjectDisposedException) { return; }
            var conn = new AdbConnection(this, s, _loggers.CreateLogger("adbd.transport"));
            _connections[conn] = 0;
            _log.LogInformation("{Peer}: connected", conn.Peer);
            _ = Task.Run(conn.RunAsync);
        }
    }

    public void OnConnectionClosed(AdbConnection c)
    {
        if (_connections.TryRemove(c, out _)) _log.LogInformation("{Peer}: disconnected", c.Peer);
    }

    public async Task WaitAsync(CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token).Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    // ---------------- keys ----------------

    public AuthorizedKey? FindSigner(byte[] token, ReadOnlySpan<byte> signature)
    {
        foreach (var k in _keys)
        {
            using var rsa = AndroidPublicKey.ToRsa(k.PublicKey);
            if (AdbKey.VerifyToken(rsa, token, signature)) return k;
        }
        return null;
    }

    public bool IsAuthorized(string fingerprint) => _keys.Any(k => k.Fingerprint == fingerprint);

    public bool AddPending(byte[] key, string comment)
    {
        try { return Store.AddPending(key, comment); }
        catch (IOException ex) { _log.LogError("cannot write pending keys file: {Message}", ex.Message); return false; }
    }

    private static (DateTime, long) Stamp(string path)
    {
        var fi = new FileInfo(path);
        return fi.Exists ? (fi.LastWriteTimeUtc, fi.Length) : (DateTime.MinValue, -1);
    }

    private void ReloadKeys(bool force)
    {
        var ks = Stamp(Store.KeysPath);
        var ps = Stamp(Store.PendingPath);
        if (!force && ks == _keysStamp && ps == _pendingStamp) return;
        _keysStamp = ks;
        _pendingStamp = ps;
        var errors = new List<string>();
        List<AuthorizedKey> keys;
        try { keys = Store.LoadAuthorized(errors); }
        catch (IOException ex) { _log.LogError("cannot read keys file: {Message}", ex.Message); return; }
        foreach (string e in errors) _log.LogWarning("keys file: {Error}", e);
        _keys = keys;
        if (!force) _log.LogInformation("keys reloaded: {Count} authorized", keys.Count);
        foreach (var c in _connections.Keys)
        {
            if (c.State == ConnectionState.Online && c.Key is not null)
            {
                var now = keys.FirstOrDefault(k => k.Fingerprint == c.Key.Fingerprint);
                if (now is null) c.Kick($"key {c.Key.Fingerprint} was revoked");
                else c.UpdateKey(now);
            }
            else if (c.State == ConnectionState.Pending && c.PendingKey is not null)
            {
                string fp = AndroidPublicKey.Fingerprint(c.PendingKey);
                var approved = keys.FirstOrDefault(k => k.Fingerprint == fp);
                if (approved is not null) _ = c.ApproveAsync(approved);
                // A denied key simply stays unauthorized (AOSP: the user dismissed the dialog).
            }
        }
    }

    private async Task PollKeysAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try { await Task.Delay(Options.KeysPollMilliseconds, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            try { ReloadKeys(force: false); }
            catch (Exception ex) { _log.LogError("keys reload failed: {Message}", ex.Message); }
        }
    }

    // ---------------- restarts ----------------

    /// <summary>In-process restart (root:, unroot:, reboot:): close every connection, reload keys; listener stays.</summary>
    public void Restart(string reason)
    {
        lock (_restartLock)
        {
            _log.LogInformation("restarting: {Reason}", reason);
            foreach (var c in _connections.Keys) c.Kick(reason);
            ReloadKeys(force: true);
        }
    }

    /// <summary>
    /// tcpip:PORT, first half: starts listening on <paramref name="port"/> (so a client told "restarting in TCP mode"
    /// can connect at once). Returns the previous listener to hand to <see cref="FinishMove"/>, or null with
    /// <paramref name="error"/> when the port cannot be bound (the daemon stays where it is).
    /// </summary>
    public TcpListener? ListenOnNewPort(int port, out string? error)
    {
        lock (_restartLock)
        {
            var old = _listener;
            try { StartListener(port); }
            catch (SocketException ex)
            {
                _log.LogError("cannot listen on port {Port}: {Message}; staying on {Old}", port, ex.Message, Port);
                error = ex.Message;
                return null;
            }
            error = null;
            return old;
        }
    }

    /// <summary>tcpip:PORT, second half: stops the old listener and closes every connection.</summary>
    public void FinishMove(TcpListener? old, int port)
    {
        lock (_restartLock)
        {
            old?.Stop();
            foreach (var c in _connections.Keys) c.Kick($"moved to TCP port {port}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Stop();
        foreach (var c in _connections.Keys) c.Kick("daemon stopping");
        if (_acceptLoop is not null) { try { await _acceptLoop.ConfigureAwait(false); } catch (Exception) { } }
        Audit.Dispose();
    }
}
