using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;

namespace Adb.Cli.Server;

/// <summary>
/// One transport from the host server to an adbd over TCP (made by <c>host:connect</c>): the CNXN/AUTH handshake,
/// the stream multiplexer (OPEN/OKAY/WRTE/CLSE, one WRTE in flight per stream) and the reconnect loop
/// (AOSP <c>transport.cpp</c>, <c>transport_local.cpp</c>, <c>adb.cpp</c> handle_packet; reference §2).
/// </summary>
internal sealed partial class DeviceTransport : IAsyncDisposable
{
    private readonly AdbServer _server;
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, DeviceStream> _streams = [];
    private readonly Lock _writeLock = new();
    private uint _nextLocalId = 1;
    private Socket? _socket;
    private uint _version = AdbVersion.Min;
    private int _maxData = AdbVersion.MaxPayloadV1;
    private int _keyIndex;
    private bool _kicked;
    private readonly CancellationTokenSource _cts = new();
    private TaskCompletionSource<ConnectionState> _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Serial as listed by <c>adb devices</c>: "host:port" as given to connect.</summary>
    public string Serial { get; }
    /// <summary>Transport id (the number in <c>transport_id:N</c> and in <c>host:tport</c> replies).</summary>
    public long Id { get; }
    /// <summary>Host name or address of adbd.</summary>
    public string Host { get; }
    /// <summary>TCP port of adbd.</summary>
    public int Port { get; }
    /// <summary>Current state.</summary>
    public ConnectionState State { get; private set; } = ConnectionState.Connecting;
    /// <summary>ro.product.name from the banner, or null.</summary>
    public string? Product { get; private set; }
    /// <summary>ro.product.model from the banner, or null.</summary>
    public string? Model { get; private set; }
    /// <summary>ro.product.device from the banner, or null.</summary>
    public string? DeviceName { get; private set; }
    /// <summary>Device features from the banner's <c>features=</c> entry.</summary>
    public string[] Features { get; private set; } = [];
    /// <summary>Largest WRTE payload we may send (min of peer maxdata and 1 MiB), in bytes.</summary>
    public int MaxData => _maxData;
    /// <summary>Reverse forwards set up through this transport: device-side spec → host-side spec.</summary>
    public Dictionary<string, string> Reverses { get; } = [];

    /// <summary>Creates a transport (not yet connected).</summary>
    public DeviceTransport(AdbServer server, string serial, string host, int port)
    {
        _server = server;
        Serial = serial;
        Host = host;
        Port = port;
        Id = server.NewTransportId();
    }

    /// <summary>AOSP atransport::MatchesTarget: serial, or product:/model:/device: qualifiers, or tcp:serial.</summary>
    public bool MatchesTarget(string target)
    {
        if (target == Serial) return true;
        if (target.StartsWith("product:", StringComparison.Ordinal)) return Product == target[8..];
        if (target.StartsWith("model:", StringComparison.Ordinal)) return Model == target[6..];
        if (target.StartsWith("device:", StringComparison.Ordinal)) return DeviceName == target[7..];
        if (target.StartsWith("tcp:", StringComparison.Ordinal)) return Serial == target[4..];
        // A local transport also answers to its address without the default port.
        if (Port == 5555 && target == Host) return true;
        return false;
    }

    private void SetState(ConnectionState s)
    {
        if (State == s) return;
        State = s;
        _server.WriteLog($"{Serial}: state {s.Name()}");
        _server.NotifyChanged();
    }

    /// <summary>
    /// First connection (for <c>host:connect</c>): TCP connect, then wait up to 10 s for the handshake to reach a
    /// decisive state. Returns the state reached (Device/Host... or Unauthorized); throws SocketException on connect failure.
    /// </summary>
    public async Task<ConnectionState> ConnectFirstAsync()
    {
        await ConnectSocketAsync();
        _server.Add(this);
        _ = Task.Run(RunAsync);
        var done = await Task.WhenAny(_handshake.Task, Task.Delay(10_000));
        return done == _handshake.Task ? _handshake.Task.Result : State;
    }

    private async Task ConnectSocketAsync()
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        // A blocking connect on a worker thread, not ConnectAsync: any async operation switches the descriptor to
        // O_NONBLOCK for good, and the reader thread's blocking recv would then wait through the runtime's epoll
        // thread (an extra wake-up per read).
        var connect = Task.Run(() => s.Connect(Host, Port));
        if (await Task.WhenAny(connect, Task.Delay(10_000)) != connect)
        {
            s.Dispose();
            _ = connect.ContinueWith(t => _ = t.Exception);
            throw new SocketException((int)SocketError.TimedOut);
        }
        try { await connect; }
        catch
        {
            s.Dispose();
            throw;
        }
        s.NoDelay = true;
        s.SendBufferSize = Math.Max(s.SendBufferSize, 1 << 20);
        s.ReceiveBufferSize = Math.Max(s.ReceiveBufferSize, 1 << 20);
        _socket = s;
        _version = AdbVersion.Min;
        _maxData = AdbVersion.MaxPayloadV1;
        _keyIndex = 0;
        SetState(ConnectionState.Connecting);
    }

    /// <summary>Reads packets until the connection drops, then reconnects (250 ms, then every 10 s, 6 attempts) or removes itself.</summary>
    private async Task RunAsync()
    {
        bool reconnected = true;
        while (reconnected && !_kicked)
        {
            try
            {
                await SendCnxnAsync();
                await ReadLoopOnThreadAsync();
            }
            catch (Exception e) when (e is IOException or SocketException or AdbProtocolException or ObjectDisposedException or InvalidOperationException)
            {
                _server.WriteLog($"{Serial}: connection lost: {e.Message}");
            }
            DropConnection();
            if (_kicked) break;
            SetState(ConnectionState.Offline);
            _handshake.TrySetResult(ConnectionState.Offline);
            reconnected = false;
            for (int attempt = 0; attempt < 6 && !_kicked; attempt++)
            {
                try { await Task.Delay(attempt == 0 ? 250 : 10_000, _cts.Token); }
                catch (OperationCanceledException) { break; }
                try
                {
                    await ConnectSocketAsync();
                    _server.WriteLog($"{Serial}: reconnected");
                    reconnected = true;
                    break;
                }
                catch (SocketException e)
                {
                    _server.WriteLog($"{Serial}: reconnect attempt {attempt + 1} failed: {e.Message}");
                }
            }
        }
        if (!_kicked) _server.Remove(this);
    }

    private void DropConnection()
    {
        var sock = _socket;
        _socket = null;
        try { sock?.Shutdown(SocketShutdown.Both); } catch { }
        sock?.Dispose();
        DeviceStream[] streams;
        lock (_lock)
        {
            streams = [.. _streams.Values];
            _streams.Clear();
        }
        foreach (var s in streams) s.OnRemoteClosed();
    }

    /// <summary>Closes the transport for good (host:disconnect, kill).</summary>
    public async ValueTask DisposeAsync()
    {
        _kicked = true;
        _cts.Cancel();
        DropConnection();
        await Task.CompletedTask;
    }

    /// <summary>Disconnects and removes this transport from the server.</summary>
    public async Task KickAsync()
    {
        await DisposeAsync();
        _server.Remove(this);
    }

    // ---- packets -----------------------------------------------------------------------------------------

    private Task SendCnxnAsync()
    {
        string banner = "host::features=" + string.Join(',', AdbFeatures.Host29);
        return SendPacketAsync(AdbCommand.CNXN, AdbVersion.Current, (uint)AdbVersion.MaxPayload, Encoding.UTF8.GetBytes(banner));
    }

    /// <summary>
    /// Sends one packet (header + payload) under the write lock; fills data_check while the version needs it.
    /// Synchronous (blocking send on the transport socket, as AOSP's transport write thread); errors come back as
    /// a faulted task with an <see cref="IOException"/>.
    /// </summary>
    internal Task SendPacketAsync(uint cmd, uint arg0, uint arg1, ReadOnlyMemory<byte> payload)
    {
        try
        {
            SendPacket(cmd, arg0, arg1, payload.Span);
            return Task.CompletedTask;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return Task.FromException(e as IOException ?? new IOException(e.Message, e));
        }
    }

    private void SendPacket(uint cmd, uint arg0, uint arg1, ReadOnlySpan<byte> payload)
    {
        var sock = _socket ?? throw new IOException("transport offline");
        var header = AdbPacketHeader.Create(cmd, arg0, arg1, payload, AdbVersion.NeedsChecksum(_version));
        // Header and payload in one send when small (one segment, one wake-up of adbd's reader); two otherwise.
        int total = AdbPacketHeader.Size + payload.Length;
        byte[]? rented = payload.Length <= 64 * 1024 ? ArrayPool<byte>.Shared.Rent(total) : null;
        try
        {
            lock (_writeLock)
            {
                if (rented != null)
                {
                    header.WriteTo(rented);
                    payload.CopyTo(rented.AsSpan(AdbPacketHeader.Size));
                    SendAll(sock, rented.AsSpan(0, total));
                }
                else
                {
                    Span<byte> hb = stackalloc byte[AdbPacketHeader.Size];
                    header.WriteTo(hb);
                    SendAll(sock, hb);
                    SendAll(sock, payload);
                }
            }
        }
        finally
        {
            if (rented != null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void SendAll(Socket sock, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            int n = sock.Send(data, SocketFlags.None, out SocketError err);
            if (err != SocketError.Success) throw new IOException($"send to device: {err}", new SocketException((int)err));
            data = data[n..];
        }
    }

    /// <summary>Runs <see cref="ReadLoop"/> on a dedicated thread; completes (faulted) when the connection ends.</summary>
    private Task ReadLoopOnThreadAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sock = _socket ?? throw new IOException("transport offline");
        var t = new Thread(() =>
        {
            try { ReadLoop(sock); done.TrySetResult(); }
            catch (Exception e) { done.TrySetException(e); }
        })
        { IsBackground = true, Name = "adb transport " + Serial };
        t.Start();
        return done.Task;
    }

    /// <summary>
    /// The transport's reader (AOSP's transport read thread): blocking reads of each header and payload straight
    /// into a pooled buffer, no copy in between; a WRTE is handed to its stream (which writes it to the local socket
    /// without blocking) and acknowledged from here, so a pull costs no thread switch per packet in this process.
    /// </summary>
    private void ReadLoop(Socket sock)
    {
        byte[] header = new byte[AdbPacketHeader.Size];
        while (true)
        {
            if (!ReceiveAll(sock, header, eofOk: true)) throw new IOException("EOF");
            var h = AdbPacketHeader.Read(header);
            h.Validate(AdbVersion.MaxPayload);
            (uint cmd, uint arg0, uint arg1, int len) = (h.Command, h.Arg0, h.Arg1, (int)h.DataLength);
            byte[] payload = len == 0 ? [] : ArrayPool<byte>.Shared.Rent(len);
            bool returned = false;
            try
            {
                if (len > 0) ReceiveAll(sock, payload.AsSpan(0, len), eofOk: false);
                switch (cmd)
                {
                    case AdbCommand.CNXN: OnCnxn(arg0, arg1, payload.AsSpan(0, len)); break;
                    case AdbCommand.AUTH: OnAuthAsync(arg0, payload.AsMemory(0, len)).GetAwaiter().GetResult(); break;
                    case AdbCommand.OPEN: OnOpenAsync(arg0, payload.AsSpan(0, len).ToArray()).GetAwaiter().GetResult(); break;
                    case AdbCommand.OKAY: OnOkay(arg0, arg1); break;
                    case AdbCommand.WRTE:
                        returned = OnWrte(arg0, arg1, payload, len, out var ackStream);
                        if (ackStream != null) SendPacket(AdbCommand.OKAY, ackStream.LocalId, ackStream.RemoteId, default);
                        break;
                    case AdbCommand.CLSE: OnClse(arg0, arg1); break;
                    default: _server.WriteLog($"{Serial}: ignoring packet {AdbCommand.Name(cmd)}"); break;
                }
            }
            finally
            {
                if (len > 0 && !returned) ArrayPool<byte>.Shared.Return(payload);
            }
        }
    }

    /// <summary>Blocking read of exactly <paramref name="buf"/>; false on EOF before the first byte when <paramref name="eofOk"/>.</summary>
    private static bool ReceiveAll(Socket sock, Span<byte> buf, bool eofOk)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n = sock.Receive(buf[got..], SocketFlags.None, out SocketError err);
            if (err != SocketError.Success) throw new IOException($"receive from device: {err}", new SocketException((int)err));
            if (n == 0)
            {
                if (got == 0 && eofOk) return false;
                throw new IOException("EOF in packet");
            }
            got += n;
        }
        return true;
    }

    private void OnCnxn(uint version, uint maxData, ReadOnlySpan<byte> banner)
    {
        _version = AdbVersion.Negotiate(version);
        _maxData = (int)Math.Min(maxData, (uint)AdbVersion.MaxPayload);
        string text = Encoding.UTF8.GetString(banner).TrimEnd('\0');
        var parsed = AdbBanner.Parse(text);
        ConnectionState st = ConnectionStates.FromBannerType(parsed.SystemType);
        Product = parsed.Get(AdbBanner.ProductName);
        Model = parsed.Get(AdbBanner.ProductModel);
        DeviceName = parsed.Get(AdbBanner.ProductDevice);
        Features = [.. parsed.Features];
        _server.WriteLog($"{Serial}: CNXN version 0x{version:x8} maxdata {maxData} banner '{text}'");
        SetState(st);
        _handshake.TrySetResult(st);
    }

    private async Task OnAuthAsync(uint type, ReadOnlyMemory<byte> data)
    {
        if (type != (uint)AdbAuthType.Token) return;
        var keys = _server.Keys;
        if (_keyIndex < keys.PrivateKeys.Count)
        {
            SetState(ConnectionState.Authorizing);
            byte[] sig = keys.Sign(_keyIndex++, data.Span);
            await SendPacketAsync(AdbCommand.AUTH, (uint)AdbAuthType.Signature, 0, sig);
            return;
        }
        byte[] pub = Encoding.UTF8.GetBytes(keys.PublicKeyText + "\0");
        await SendPacketAsync(AdbCommand.AUTH, (uint)AdbAuthType.RsaPublicKey, 0, pub);
        SetState(ConnectionState.Unauthorized);
        _handshake.TrySetResult(ConnectionState.Unauthorized);
    }

    // ---- streams ---------------------------------------------------------------------------------------------

    /// <summary>Opens a stream to a device service. Returns null when adbd refuses it (CLSE) or the transport drops.</summary>
    public async Task<DeviceStream?> OpenAsync(string service, CancellationToken ct = default)
    {
        DeviceStream s;
        lock (_lock)
        {
            uint id = _nextLocalId++;
            if (_nextLocalId == 0) _nextLocalId = 1;
            s = new DeviceStream(this, id);
            _streams[id] = s;
        }
        try
        {
            await SendPacketAsync(AdbCommand.OPEN, s.LocalId, 0, Encoding.UTF8.GetBytes(service + "\0"));
        }
        catch (IOException)
        {
            Forget(s);
            return null;
        }
        if (service.StartsWith("reverse:", StringComparison.Ordinal)) TrackReverse(service[8..]);
        bool ok = await s.Opened.WaitAsync(ct);
        if (!ok) { Forget(s); return null; }
        return s;
    }

    private void TrackReverse(string cmd)
    {
        lock (Reverses)
        {
            if (cmd.StartsWith("forward:", StringComparison.Ordinal))
            {
                string spec = cmd[8..];
                if (spec.StartsWith("norebind:", StringComparison.Ordinal)) spec = spec[9..];
                int semi = spec.IndexOf(';');
                if (semi > 0) Reverses[spec[..semi]] = spec[(semi + 1)..];
            }
            else if (cmd.StartsWith("killforward:", StringComparison.Ordinal)) Reverses.Remove(cmd[12..]);
            else if (cmd == "killforward-all") Reverses.Clear();
        }
    }

    internal void Forget(DeviceStream s)
    {
        lock (_lock) _streams.Remove(s.LocalId);
    }

    private DeviceStream? Find(uint localId)
    {
        lock (_lock) return _streams.GetValueOrDefault(localId);
    }

    private void OnOkay(uint remoteId, uint localId)
    {
        var s = Find(localId);
        if (s == null) return;
        s.OnOkay(remoteId);
    }

    private bool OnWrte(uint remoteId, uint localId, byte[] rented, int len, out DeviceStream? ackNow)
    {
        ackNow = null;
        var s = Find(localId);
        if (s == null || s.RemoteId != remoteId)
        {
            // Unknown stream: tell the device it is closed.
            _ = SendPacketAsync(AdbCommand.CLSE, 0, remoteId, ReadOnlyMemory<byte>.Empty).ContinueWith(_ => { });
            return false;
        }
        if (len == 0) { ackNow = s; return false; }
        bool taken = s.OnWrite(rented, len, out bool ack);
        if (ack) ackNow = s;
        return taken;
    }

    private void OnClse(uint remoteId, uint localId)
    {
        var s = Find(localId);
        if (s == null) return;
        if (s.RemoteId != 0 && remoteId != 0 && s.RemoteId != remoteId) return;
        Forget(s);
        s.OnRemoteClosed();
    }

    /// <summary>A device OPEN: only reverse targets configured through this transport are allowed (new adb's rule).</summary>
    private async Task OnOpenAsync(uint remoteId, byte[] payload)
    {
        string service = Encoding.UTF8.GetString(payload).TrimEnd('\0');
        bool allowed;
        lock (Reverses) allowed = Reverses.ContainsValue(service);
        if (!allowed || !service.StartsWith("tcp:", StringComparison.Ordinal) || !int.TryParse(service[4..], out int port))
        {
            _server.WriteLog($"{Serial}: refusing device OPEN '{service}'");
            await SendPacketAsync(AdbCommand.CLSE, 0, remoteId, ReadOnlyMemory<byte>.Empty);
            return;
        }
        _ = Task.Run(async () =>
        {
            var sock = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try { await sock.ConnectAsync("127.0.0.1", port); }
            catch (SocketException)
            {
                sock.Dispose();
                try { await SendPacketAsync(AdbCommand.CLSE, 0, remoteId, ReadOnlyMemory<byte>.Empty); } catch { }
                return;
            }
            sock.NoDelay = true;
            DeviceStream s;
            lock (_lock)
            {
                uint id = _nextLocalId++;
                s = new DeviceStream(this, id);
                s.OnOkay(remoteId);
                _streams[id] = s;
            }
            try { await SendPacketAsync(AdbCommand.OKAY, s.LocalId, remoteId, ReadOnlyMemory<byte>.Empty); }
            catch { sock.Dispose(); Forget(s); return; }
            await using var ns = new NetworkStream(sock, ownsSocket: true);
            await s.RelayAsync(ns, sock);
        });
    }
}
