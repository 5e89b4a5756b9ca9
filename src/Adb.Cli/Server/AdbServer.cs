using System.Net;
using System.Net.Sockets;

namespace Adb.Cli.Server;

/// <summary>
/// The adb host server: listens for smart-socket clients (default 127.0.0.1:5037), owns the transports to devices
/// (adbd over TCP, made by <c>host:connect</c>) and the forward listeners. AOSP: <c>client/main.cpp</c>
/// adb_server_main, <c>transport.cpp</c>, <c>adb_listeners.cpp</c>.
/// </summary>
internal sealed partial class AdbServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly List<DeviceTransport> _transports = [];
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextTransportId = 1;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Server log (the $TMPDIR/adb.&lt;uid&gt;.log file in daemon mode, stderr in nodaemon mode).</summary>
    public TextWriter Log { get; }

    /// <summary>Host keys used to authenticate to devices.</summary>
    public HostKeys Keys { get; }

    /// <summary>Completes when the server has been asked to stop (host:kill).</summary>
    public Task Stopped => _stoppedTcs.Task;
    private readonly TaskCompletionSource _stoppedTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The bound endpoint.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Creates the server bound to <paramref name="endPoint"/> (throws SocketException if in use).</summary>
    public AdbServer(IPEndPoint endPoint, TextWriter log)
    {
        Log = log;
        Keys = HostKeys.LoadOrCreate(log);
        _listener = new TcpListener(endPoint);
        Adb.Protocol.ListenSocket.SetReuseAddressOnly(_listener.Server);
        _listener.Start(128);
    }

    /// <summary>Accepts clients until <see cref="Stop"/>.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket s;
                try { s = await _listener.AcceptSocketAsync(_stop.Token); }
                catch (OperationCanceledException) { break; }
                catch (SocketException) { continue; }
                s.NoDelay = true;
                _ = Task.Run(() => new HostConnection(this, s).RunAsync());
            }
        }
        finally { _stoppedTcs.TrySetResult(); }
    }

    /// <summary>Stops accepting and completes <see cref="Stopped"/>.</summary>
    public void Stop()
    {
        _stop.Cancel();
        try { _listener.Stop(); } catch { }
        _stoppedTcs.TrySetResult();
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Stop();
        DeviceTransport[] all;
        lock (_lock) all = [.. _transports];
        foreach (var t in all) await t.DisposeAsync();
        foreach (var f in _forwards.Values) f.Dispose();
    }

    internal void WriteLog(string line)
    {
        lock (Log)
        {
            Log.WriteLine($"{DateTime.Now:MM-dd HH:mm:ss.fff} {Environment.ProcessId,5} {line}");
            Log.Flush();
        }
    }

    // ---- transport registry -------------------------------------------------------------------------------

    /// <summary>Snapshot of all transports, sorted as AOSP lists them (by type, then serial).</summary>
    public DeviceTransport[] Transports()
    {
        lock (_lock) return [.. _transports.OrderBy(t => t.Serial, StringComparer.Ordinal)];
    }

    /// <summary>A task that completes at the next transport change (state, add, remove).</summary>
    public Task NextChange()
    {
        lock (_lock) return _changed.Task;
    }

    /// <summary>Signals trackers and waiters that a transport changed.</summary>
    public void NotifyChanged()
    {
        TaskCompletionSource old;
        lock (_lock)
        {
            old = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        old.TrySetResult();
    }

    internal long NewTransportId() => Interlocked.Increment(ref _nextTransportId) - 1;

    internal DeviceTransport? FindBySerial(string serial)
    {
        lock (_lock) return _transports.FirstOrDefault(t => t.Serial == serial);
    }

    internal void Add(DeviceTransport t)
    {
        lock (_lock) _transports.Add(t);
        NotifyChanged();
    }

    internal void Remove(DeviceTransport t)
    {
        bool removed;
        lock (_lock) removed = _transports.Remove(t);
        if (removed)
        {
            RemoveForwardsOf(t);
            NotifyChanged();
        }
    }

    /// <summary>
    /// AOSP acquire_one_transport: picks one transport by id, serial or type; with <paramref name="acceptAnyState"/>
    /// false it refuses transports that are not online with AOSP's messages.
    /// </summary>
    public DeviceTransport? Acquire(TransportSelector sel, bool acceptAnyState, out string error, out bool ambiguous)
    {
        ambiguous = false;
        error = "";
        DeviceTransport? result = null;
        DeviceTransport[] all = Transports();
        foreach (var t in all)
        {
            if (sel.TransportId is long id)
            {
                if (t.Id == id) { result = t; break; }
            }
            else if (sel.Serial is string serial)
            {
                if (t.MatchesTarget(serial))
                {
                    if (result != null) { error = "more than one device"; ambiguous = true; result = null; break; }
                    result = t;
                }
            }
            else if (sel.Type == TransportType.Usb)
            {
                // No USB transports in this server.
            }
            else
            {
                if (result != null)
                {
                    error = sel.Type == TransportType.Local ? "more than one emulator" : "more than one device/emulator";
                    ambiguous = true; result = null; break;
                }
                result = t;
            }
        }
        if (result != null && !acceptAnyState)
        {
            switch (result.State)
            {
                case ConnectionState.Connecting: error = "device still connecting"; result = null; break;
                case ConnectionState.Authorizing: error = "device still authorizing"; result = null; break;
                case ConnectionState.Unauthorized:
                    string? vk = Environment.GetEnvironmentVariable("ADB_VENDOR_KEYS");
                    error = "device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is " + (vk ?? "not set") +
                            "\nTry 'adb kill-server' if that seems wrong.\nOtherwise check for a confirmation dialog on your device.";
                    result = null; break;
                case ConnectionState.Offline: error = "device offline"; result = null; break;
            }
        }
        if (result == null && error.Length == 0)
        {
            if (sel.TransportId is long id) error = $"no device with transport id '{id}'";
            else if (sel.Serial is string s) error = $"device '{s}' not found";
            else if (sel.Type == TransportType.Usb) error = "no devices found";
            else if (sel.Type == TransportType.Local) error = "no emulators found";
            else error = "no devices/emulators found";
        }
        return result;
    }
}

/// <summary>Transport type requested by a host service prefix (AOSP TransportType).</summary>
internal enum TransportType { Any, Usb, Local }

/// <summary>Which transport a host request addresses: by type, serial or transport id.</summary>
internal readonly record struct TransportSelector(TransportType Type, string? Serial, long? TransportId)
{
    /// <summary>host: / host-any: (no constraint).</summary>
    public static TransportSelector Any => new(TransportType.Any, null, null);
}
