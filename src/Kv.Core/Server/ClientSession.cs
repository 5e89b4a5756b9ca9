using System.Net;
using System.Net.Sockets;
using Kv.Commands;
using Kv.Resp;
using Microsoft.Extensions.Logging;

namespace Kv.Server;

/// <summary>
/// One client connection: its receive buffer, parser, reply buffers and per-client state (selected db, auth,
/// MULTI queue, subscriptions, blocking). The read loop parses complete requests and executes them in a batch
/// under <see cref="KvServer.ExecLock"/>, then sends the replies (networking.c readQueryFromClient +
/// processInputBuffer + writeToClient).
/// </summary>
public sealed partial class ClientSession
{
    private readonly KvServer _server;
    private byte[] _in = new byte[16 * 1024];
    private int _inStart, _inEnd;
    private readonly Request _req = new();
    private ReplyWriter _sendBuf = new();
    private bool _sending;
    private volatile bool _closed;
    private bool _closeAfterReply;
    private TaskCompletionSource? _unblocked;

    internal ClientSession(KvServer server, Socket? socket, long id)
    {
        _server = server;
        Socket = socket;
        Id = id;
        Context = new CommandContext(server, this);
        CreatedMs = LastInteractionMs = KvServer.UnixMs();
        Authenticated = server.Config.Get("requirepass").Length == 0;
        if (socket?.RemoteEndPoint is IPEndPoint rep) Address = rep;
        if (socket?.LocalEndPoint is IPEndPoint lep) LocalAddress = lep;
    }

    /// <summary>The socket (null for detached clients).</summary>
    public Socket? Socket { get; }

    /// <summary>CLIENT ID.</summary>
    public long Id { get; }

    /// <summary>Peer address.</summary>
    public IPEndPoint? Address { get; }

    /// <summary>Local address.</summary>
    public IPEndPoint? LocalAddress { get; }

    /// <summary>CLIENT SETNAME.</summary>
    public string? Name { get; set; }

    /// <summary>Selected database.</summary>
    public int DbIndex { get; set; }

    /// <summary>True after AUTH (or when no password is required).</summary>
    public bool Authenticated { get; set; }

    /// <summary>Pending replies (written under the execution lock).</summary>
    public ReplyWriter Out { get; } = new();

    /// <summary>The reusable command context.</summary>
    public CommandContext Context { get; }

    /// <summary>Creation time (unix ms).</summary>
    public long CreatedMs { get; }

    /// <summary>Last command time (unix ms).</summary>
    public long LastInteractionMs { get; set; }

    /// <summary>Name of the last command (CLIENT LIST cmd=).</summary>
    public string LastCommand { get; set; } = "NULL";

    /// <summary>True when this client is the link to our master (a replica's master client).</summary>
    public bool IsMaster { get; set; }

    /// <summary>True when this client is a replica of ours (after SYNC/PSYNC).</summary>
    public bool IsReplica { get; set; }

    /// <summary>Replication state attached by the replication component.</summary>
    public object? ReplicationState { get; set; }

    /// <summary>True when replies must not be sent (the master link; CLIENT REPLY OFF).</summary>
    public bool SuppressReplies { get; set; }

    /// <summary>Called (under the lock) when the client goes away.</summary>
    public Action<ClientSession>? OnClose { get; set; }

    /// <summary>Called (under the lock) after every executed command on this client (used by the master link).</summary>
    public Action<ClientSession, Request>? AfterCommand { get; set; }

    /// <summary>MULTI state: null when not in a transaction.</summary>
    public List<(CommandDef Cmd, byte[][] Argv)>? MultiQueue { get; set; }

    /// <summary>Set when a command was rejected inside MULTI (EXEC then aborts).</summary>
    public bool MultiDirty { get; set; }

    /// <summary>Set when a WATCHed key changed.</summary>
    public bool WatchDirty { get; set; }

    /// <summary>Blocking state while blocked on keys, else null.</summary>
    public BlockedState? BlockedState { get; internal set; }

    /// <summary>Channels + patterns subscribed.</summary>
    public int SubscriptionCount => Channels.Count + Patterns.Count;

    /// <summary>Subscribed channels.</summary>
    public HashSet<string> Channels { get; } = [];

    /// <summary>Subscribed patterns.</summary>
    public HashSet<string> Patterns { get; } = [];

    /// <summary>Offset of the last write this client caused in the replication stream (WAIT uses it).</summary>
    public long WriteOffset { get; set; }

    /// <summary>True once the connection is closed.</summary>
    public bool IsClosed => _closed;

    /// <summary>Bytes in the query buffer (CLIENT LIST qbuf=).</summary>
    public int QueryBufferLength => _inEnd - _inStart;

    /// <summary>Runs the read-execute-write loop until the peer disconnects or the client is closed.</summary>
    public async Task RunAsync()
    {
        var sock = Socket!;
        Task<int>? recv = null;
        try
        {
            while (!_closed)
            {
                int n;
                if (recv is null && _unblocked is null)
                {
                    // Common path: await the ValueTask directly (no Task allocation per receive).
                    PrepareReceive();
                    n = await sock.ReceiveAsync(_in.AsMemory(_inEnd), SocketFlags.None).ConfigureAwait(false);
                }
                else
                {
                    if (recv is null)
                    {
                        PrepareReceive();
                        recv = sock.ReceiveAsync(_in.AsMemory(_inEnd), SocketFlags.None).AsTask();
                    }
                    if (_unblocked is { } ub)
                    {
                        // Blocked: wake on either new input (kept for later) or the unblock.
                        await Task.WhenAny(recv, ub.Task).ConfigureAwait(false);
                        if (!recv.IsCompleted) { Interlocked.CompareExchange(ref _unblocked, null, ub); await ProcessAndSendAsync().ConfigureAwait(false); continue; }
                    }
                    n = await recv.ConfigureAwait(false);
                    recv = null;
                }
                if (n == 0) break;
                _inEnd += n;
                Interlocked.Add(ref _server.Stats.NetInputBytes, n);
                if (BlockedState is not null) continue;
                await ProcessAndSendAsync().ConfigureAwait(false);
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        catch (Exception e)
        {
            _server.Log.LogWarning(e, "Client {Id} failed", Id);
        }
        finally
        {
            Close(null);
        }
    }

    private void PrepareReceive()
    {
        if (_inStart == _inEnd) { _inStart = _inEnd = 0; }
        if (_in.Length - _inEnd < 4096)
        {
            if (_inStart > 0)
            {
                Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
                _inEnd -= _inStart;
                _inStart = 0;
            }
            if (_in.Length - _inEnd < 4096) Array.Resize(ref _in, _in.Length * 2);
        }
        if (_needBytes > 0 && _needBytes > _in.Length - _inStart)
        {
            long want = Math.Min(_needBytes + 4096, int.MaxValue - 64);
            var n = new byte[want];
            Buffer.BlockCopy(_in, _inStart, n, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _inStart = 0;
            _in = n;
        }
        else if (_in.Length > 1024 * 1024 && _inEnd - _inStart < 16 * 1024 && _needBytes == 0)
        {
            // Shrink a query buffer that grew for a big request.
            var n = new byte[16 * 1024];
            Buffer.BlockCopy(_in, _inStart, n, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _inStart = 0;
            _in = n;
        }
    }

    private long _needBytes;

    /// <summary>The event loop this client runs on, or null when it runs as a task (<see cref="RunAsync"/>).</summary>
    internal EpollLoop? Loop;

    /// <summary>Registration slot in <see cref="Loop"/>.</summary>
    internal int LoopSlot;

    private bool _pendingWrite;

    /// <summary>
    /// Event loop: the socket is readable. Reads once (readQueryFromClient), runs the complete requests and queues the
    /// client for the end-of-iteration write. Loop thread only.
    /// </summary>
    internal void OnReadable(List<ClientSession> pendingWrites)
    {
        if (_closed) return;
        var sock = Socket!;
        int n;
        System.Net.Sockets.SocketError err;
        try
        {
            PrepareReceive();
            n = sock.Receive(_in.AsSpan(_inEnd), SocketFlags.None, out err);
        }
        catch (ObjectDisposedException) { return; }
        if (err == System.Net.Sockets.SocketError.WouldBlock) return;
        if (err != System.Net.Sockets.SocketError.Success || n == 0)
        {
            Close(null);
            return;
        }
        _inEnd += n;
        Interlocked.Add(ref _server.Stats.NetInputBytes, n);
        if (BlockedState is not null) return;
        RunBatch(pendingWrites);
    }

    /// <summary>Event loop: the client was unblocked by another thread; runs what it sent meanwhile. Loop thread only.</summary>
    internal void ResumeFromLoop(List<ClientSession> pendingWrites)
    {
        if (_closed) return;
        if (BlockedState is null) RunBatch(pendingWrites);
        if (!_pendingWrite) { _pendingWrite = true; pendingWrites.Add(this); }
    }

    private void RunBatch(List<ClientSession> pendingWrites)
    {
        lock (_server.ExecLock)
        {
            _server.InClientBatch = true;
            try { ProcessInput(); }
            finally { _server.InClientBatch = false; }
        }
        if (!_pendingWrite && (Out.Length > 0 || _closeAfterReply))
        {
            _pendingWrite = true;
            pendingWrites.Add(this);
        }
    }

    /// <summary>
    /// Event loop, end of an iteration: writes the pending replies with non-blocking sends; what the socket does not
    /// take now continues on <see cref="SendLoopAsync"/>. Loop thread only.
    /// </summary>
    internal void FlushFromLoop()
    {
        _pendingWrite = false;
        while (true)
        {
            bool send;
            lock (_server.ExecLock) send = TryBeginSend();
            if (!send) break;
            var data = _sendBuf.WrittenMemory.Span;
            int off = 0;
            try
            {
                while (off < data.Length)
                {
                    int n = Socket!.Send(data[off..], SocketFlags.None, out var err);
                    if (err == System.Net.Sockets.SocketError.WouldBlock) break;
                    if (err != System.Net.Sockets.SocketError.Success) throw new SocketException((int)err);
                    off += n;
                    Interlocked.Add(ref _server.Stats.NetOutputBytes, n);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (_server.ExecLock) _sending = false;
                Close(null);
                return;
            }
            if (off < data.Length)
            {
                _ = SendLoopAsync(off);
                return;
            }
            _sendBuf.Clear();
            lock (_server.ExecLock) _sending = false;
        }
        if (_closeAfterReply) Close(null);
    }

    private async Task ProcessAndSendAsync()
    {
        bool send;
        lock (_server.ExecLock)
        {
            _server.InClientBatch = true;
            try { ProcessInput(); }
            finally { _server.InClientBatch = false; }
            _server.AfterClientBatch?.Invoke(false);
            send = TryBeginSend();
        }
        if (send) await SendLoopAsync().ConfigureAwait(false);
        if (_closeAfterReply) Close(null);
    }

    /// <summary>Feeds bytes that arrived by other means (the master link hands over what followed the RDB).</summary>
    public void FeedInput(ReadOnlySpan<byte> data)
    {
        if (_in.Length - _inEnd < data.Length)
        {
            var n = new byte[Math.Max(_in.Length * 2, _inEnd - _inStart + data.Length + 4096)];
            Buffer.BlockCopy(_in, _inStart, n, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _inStart = 0;
            _in = n;
        }
        data.CopyTo(_in.AsSpan(_inEnd));
        _inEnd += data.Length;
    }

    /// <summary>
    /// Parses and executes every complete request in the query buffer (processInputBuffer). Caller holds the lock.
    /// Stops at an incomplete request, when the client blocks, or on a protocol error (reply, then close).
    /// </summary>
    public void ProcessInput()
    {
        long maxBulk = _server.ProtoMaxBulkLen.Number;
        ClockTicks = KvClock.Ticks();
        LastInteractionMs = KvClock.UnixMsAt(ClockTicks);
        while (!_closed && !_closeAfterReply && BlockedState is null && _inStart < _inEnd)
        {
            int consumed;
            try
            {
                if (!RequestParser.TryParse(_in, _inStart, _inEnd, _req, out consumed, maxBulk, Authenticated || IsMaster, IsMaster, out _needBytes))
                {
                    long qlimit = _server.ClientQueryBufferLimit.Number;
                    if (!IsMaster && (_inEnd - _inStart > qlimit || _needBytes > qlimit))
                    {
                        _server.Log.LogWarning("Closing client that reached max query buffer length: id={Id}", Id);
                        Close("query buffer limit");
                    }
                    break;
                }
            }
            catch (ProtocolException e)
            {
                if (IsMaster)
                {
                    _server.Log.LogWarning("Protocol error from MASTER: {Error}", e.Message);
                    Close("protocol error from master");
                    return;
                }
                _server.Log.LogDebug("Protocol error ({Error}) from client: id={Id} addr={Addr}", e.Message, Id, Address);
                Out.Error("ERR " + e.Message);
                _closeAfterReply = true;
                _inStart = _inEnd;
                break;
            }
            _needBytes = 0;
            _inStart += consumed;
            if (_req.Count == 0) continue;
            if (IsMaster && _req.Inline)
            {
                _server.Log.LogWarning("Master using the inline protocol. Desync?");
                Close("inline protocol from master");
                return;
            }
            int mark = Out.Length;
            Dispatcher.ProcessCommand(this, _req);
            if (SuppressReplies && !_forceReply) Out.Truncate(mark);
            _forceReply = false;
            AfterCommand?.Invoke(this, _req);
        }
        if (_inStart == _inEnd) _inStart = _inEnd = 0;
        ClockTicks = 0;
    }

    /// <summary>
    /// Monotonic timestamp (<see cref="KvClock.Ticks"/>) at which the next command of the current batch starts, or 0
    /// outside a batch; <see cref="Dispatcher.Call"/> chains it so each command costs one clock read.
    /// </summary>
    internal long ClockTicks;

    private bool _forceReply;

    /// <summary>Lets the current command's reply through even when replies are suppressed (REPLCONF ACK to the master).</summary>
    public void ForceReply() => _forceReply = true;

    /// <summary>Marks the client to be closed once its pending replies are written (QUIT, protocol errors).</summary>
    public void CloseAfterReply() => _closeAfterReply = true;

    /// <summary>Takes the pending output for sending if no send is in progress. Caller holds the lock.</summary>
    internal bool TryBeginSend()
    {
        if (_sending || Out.Length == 0 || Socket is null || _closed) return false;
        if (SuppressReplies && !IsMaster && Out.Length == 0) return false;
        _sending = true;
        Out.SwapWith(_sendBuf);
        return true;
    }

    /// <summary>Sends taken output, then anything queued meanwhile, until the buffer is empty.</summary>
    internal async Task SendLoopAsync(int start = 0)
    {
        try
        {
            while (true)
            {
                var mem = _sendBuf.WrittenMemory[start..];
                start = 0;
                while (mem.Length > 0)
                {
                    int n = await Socket!.SendAsync(mem, SocketFlags.None).ConfigureAwait(false);
                    mem = mem[n..];
                    Interlocked.Add(ref _server.Stats.NetOutputBytes, n);
                }
                _sendBuf.Clear();
                lock (_server.ExecLock)
                {
                    if (Out.Length == 0 || _closed)
                    {
                        _sending = false;
                        if (Loop is not null && _closeAfterReply) Close(null);
                        return;
                    }
                    Out.SwapWith(_sendBuf);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            lock (_server.ExecLock) _sending = false;
            Close(null);
        }
    }

    /// <summary>
    /// Schedules sending of output produced outside this client's own loop (pub/sub messages, unblocked replies,
    /// MONITOR). Caller holds the lock.
    /// </summary>
    public void ScheduleFlush()
    {
        if (TryBeginSend()) _ = SendLoopAsync();
    }

    /// <summary>Called by the blocking manager (under the lock) when the client is unblocked.</summary>
    internal void SignalUnblocked()
    {
        if (Loop is { } loop) { loop.Resume(this); return; }
        var tcs = _unblocked;
        tcs?.TrySetResult();
    }

    internal void PrepareBlockWait() => _unblocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Closes the connection (CLIENT KILL, errors, shutdown). Safe to call more than once, from any thread.</summary>
    public void Close(string? reason)
    {
        if (_closed) return;
        _closed = true;
        if (reason is not null) _server.Log.LogDebug("Closing client {Id}: {Reason}", Id, reason);
        if (Loop is { } loop && Socket is { } ls)
        {
            Loop = null;
            loop.Unregister(this, ls);
        }
        try { Socket?.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        try { Socket?.Dispose(); } catch (Exception) { }
        _unblocked?.TrySetResult();
        _server.RemoveClient(this);
    }

    /// <summary>Flags for CLIENT LIST (flags=): N normal, M master, S replica, x MULTI, b blocked, P pubsub.</summary>
    public string FlagString()
    {
        var s = "";
        if (IsMaster) s += "M";
        if (IsReplica) s += "S";
        if (MultiQueue is not null) s += "x";
        if (BlockedState is not null) s += "b";
        if (SubscriptionCount > 0) s += "P";
        if (WatchDirty) s += "d";
        return s.Length == 0 ? "N" : s;
    }
}
