using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;
using Microsoft.Extensions.Logging;

namespace Adb.Daemon;

/// <summary>Authorization state of one host connection.</summary>
internal enum ConnectionState
{
    /// <summary>No CNXN yet.</summary>
    WaitingForConnect,
    /// <summary>CNXN received, AUTH token sent.</summary>
    Authorizing,
    /// <summary>Host offered an unknown public key; waiting for <c>adbd keys approve</c>.</summary>
    Pending,
    /// <summary>CNXN sent: streams allowed.</summary>
    Online,
}

/// <summary>
/// One TCP connection from an adb server (one "transport"): packet loop, CNXN/AUTH handshake with its own auth
/// state, and the streams opened on it. A protocol error closes this connection only.
/// </summary>
internal sealed partial class AdbConnection : IAsyncDisposable
{
    private readonly AdbDaemon _daemon;
    private readonly Socket _socket;
    private readonly NetworkStream _net;
    private readonly BufferedStream _in;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<uint, AdbSocket> _sockets = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly ILogger _log;
    private uint _nextLocalId;
    private uint _version = AdbVersion.Min;
    private byte[]? _token;
    private int _authFailures;

    public string Peer { get; }
    public ConnectionState State { get; private set; } = ConnectionState.WaitingForConnect;

    /// <summary>The key this connection authenticated with (null before Online).</summary>
    public AuthorizedKey? Key { get; private set; }

    /// <summary>Key offered through RSAPUBLICKEY while <see cref="ConnectionState.Pending"/>.</summary>
    public byte[]? PendingKey { get; private set; }

    /// <summary>The host's banner (from its CNXN).</summary>
    public AdbBanner? HostBanner { get; private set; }

    /// <summary>Negotiated max payload: min(host maxdata, 1 MiB); 4096 until CNXN.</summary>
    public int MaxPayload { get; private set; } = AdbVersion.MaxPayloadV1;

    public string Fingerprint => Key?.Fingerprint ?? "-";
    public CancellationToken Closing => _cts.Token;
    public AdbDaemon Daemon => _daemon;

    /// <summary>Reverse-forward listeners created on this connection.</summary>
    public ReverseForwards Reverses { get; }

    public AdbConnection(AdbDaemon daemon, Socket socket, ILogger log)
    {
        _daemon = daemon;
        _socket = socket;
        _socket.NoDelay = true;
        // Room for a whole 1 MiB WRTE in the kernel buffers.
        _socket.SendBufferSize = 4 * 1024 * 1024;
        _socket.ReceiveBufferSize = 4 * 1024 * 1024;
        _net = new NetworkStream(socket, ownsSocket: true);
        _in = new BufferedStream(_net, 256 * 1024);
        _log = log;
        Peer = socket.RemoteEndPoint?.ToString() ?? "?";
        Reverses = new ReverseForwards(this);
    }

    /// <summary>Reads packets until the host disconnects or breaks the protocol.</summary>
    public async Task RunAsync()
    {
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                var header = await AdbPacketIO.ReadHeaderAsync(_in, AdbVersion.MaxPayload, _cts.Token).ConfigureAwait(false);
                if (header is null) break;
                var h = header.Value;
                byte[] payload = ArrayPool<byte>.Shared.Rent(Math.Max(1, (int)h.DataLength));
                bool handedOff = false;
                try
                {
                    if (h.DataLength > 0) await _in.ReadExactlyAsync(payload.AsMemory(0, (int)h.DataLength), _cts.Token).ConfigureAwait(false);
                    handedOff = await HandlePacketAsync(h, payload).ConfigureAwait(false);
                }
                finally { if (!handedOff) ArrayPool<byte>.Shared.Return(payload); }
            }
        }
        catch (AdbProtocolException ex) { _log.LogWarning("{Peer}: protocol error, closing connection: {Message}", Peer, ex.Message); }
        catch (EndOfStreamException) { _log.LogDebug("{Peer}: connection closed mid-packet", Peer); }
        catch (OperationCanceledException) { }
        catch (IOException ex) { _log.LogDebug("{Peer}: connection error: {Message}", Peer, ex.Message); }
        catch (SocketException ex) { _log.LogDebug("{Peer}: socket error: {Message}", Peer, ex.Message); }
        catch (ObjectDisposedException) { }
        finally { await DisposeAsync().ConfigureAwait(false); }
    }

    /// <returns>True when the payload buffer was handed to a stream (not to be returned to the pool).</returns>
    private async Task<bool> HandlePacketAsync(AdbPacketHeader h, byte[] payload)
    {
        var data = payload.AsMemory(0, (int)h.DataLength);
        switch (h.Command)
        {
            case AdbCommand.CNXN:
                await OnConnectAsync(h, data).ConfigureAwait(false);
                return false;
            case AdbCommand.AUTH:
                await OnAuthAsync(h, data).ConfigureAwait(false);
                return false;
        }
        if (State != ConnectionState.Online)
        {
            _log.LogDebug("{Peer}: ignoring {Packet} before authorization", Peer, h);
            return false;
        }
        switch (h.Command)
        {
            case AdbCommand.OPEN:
                if (h.Arg0 == 0) throw new AdbProtocolException("OPEN with local-id 0");
                if (h.Arg1 != 0)
                {
                    // delayed_ack window without negotiation: refuse the stream (AOSP does the same).
                    await SendAsync(AdbCommand.CLSE, 0, h.Arg0, default).ConfigureAwait(false);
                    return false;
                }
                string service = DecodeServiceName(data.Span);
                _ = Task.Run(() => _daemon.Services.OpenAsync(this, h.Arg0, service));
                return false;
            case AdbCommand.WRTE:
                if (_sockets.TryGetValue(h.Arg1, out var ws) && !ws.RemoteClosed)
                {
                    if (ws.OnWrite(payload, (int)h.DataLength))
                        await SendAsync(AdbCommand.OKAY, ws.LocalId, ws.RemoteId, default).ConfigureAwait(false);
                    return true;
                }
                return false;
            case AdbCommand.OKAY:
                if (_sockets.TryGetValue(h.Arg1, out var os)) os.OnOkay(h.Arg0);
                return false;
            case AdbCommand.CLSE:
                if (_sockets.TryRemove(h.Arg1, out var cs)) cs.OnRemoteClose();
                return false;
            default:
                _log.LogDebug("{Peer}: ignoring unknown packet {Packet}", Peer, h);
                return false;
        }
    }

    private static string DecodeServiceName(ReadOnlySpan<byte> data)
    {
        int nul = data.IndexOf((byte)0);
        if (nul >= 0) data = data[..nul];
        return Encoding.UTF8.GetString(data);
    }

    /// <summary>Registers a new stream with a fresh local id.</summary>
    public AdbSocket CreateSocket(uint remoteId, string service)
    {
        uint id = Interlocked.Increment(ref _nextLocalId);
        var s = new AdbSocket(this, id, remoteId, service);
        _sockets[id] = s;
        return s;
    }

    public void RemoveSocket(AdbSocket s) => _sockets.TryRemove(new KeyValuePair<uint, AdbSocket>(s.LocalId, s));

    /// <summary>Sends one packet (serialized with other writers); checksums while the negotiated version needs them.</summary>
    public async ValueTask SendAsync(uint command, uint arg0, uint arg1, ReadOnlyMemory<byte> payload)
    {
        await _writeLock.WaitAsync(_cts.Token).ConfigureAwait(false);
        try
        {
            await AdbPacketIO.WriteAsync(_net, command, arg0, arg1, payload, AdbVersion.NeedsChecksum(_version), _cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _cts.Cancel();
            throw new IOException("connection lost", ex);
        }
        finally { _writeLock.Release(); }
    }

    /// <summary>Closes the connection (used by revoke, restart, tcpip).</summary>
    public void Kick(string reason)
    {
        _log.LogInformation("{Peer}: closing connection: {Reason}", Peer, reason);
        _cts.Cancel();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        try { _socket.Close(); } catch (Exception) { }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _cts.Cancel();
        foreach (var s in _sockets.Values) s.OnRemoteClose();
        _sockets.Clear();
        Reverses.RemoveAll();
        try { _socket.Close(); } catch (Exception) { }
        await _net.DisposeAsync().ConfigureAwait(false);
        _daemon.OnConnectionClosed(this);
    }
}
