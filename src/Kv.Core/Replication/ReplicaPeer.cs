using System.Net.Sockets;
using Kv.Server;
using Microsoft.Extensions.Logging;

namespace Kv.Replication;

/// <summary>Master-side state of one replica (client->replstate in redis 7.0.15).</summary>
public enum ReplicaSyncState
{
    /// <summary>Handshake only (REPLCONF seen, no SYNC/PSYNC yet).</summary>
    None,
    /// <summary>Waiting for a snapshot to start (SLAVE_STATE_WAIT_BGSAVE_START).</summary>
    WaitBgsaveStart,
    /// <summary>Snapshot running; the stream accumulates from its offset (SLAVE_STATE_WAIT_BGSAVE_END).</summary>
    WaitBgsaveEnd,
    /// <summary>Sending the RDB payload (SLAVE_STATE_SEND_BULK).</summary>
    SendBulk,
    /// <summary>Streaming (SLAVE_STATE_ONLINE).</summary>
    Online,
}

/// <summary>
/// A replica connected to us (master side): REPLCONF capabilities, sync state, ACK offset/time, its cursor in the
/// shared buffer, and a preamble queue (+FULLRESYNC, keepalive newlines, RDB payload) sent before the stream.
/// One sender task per replica writes slices of the shared buffer blocks straight to the socket (no copy).
/// </summary>
public sealed class ReplicaPeer
{
    private readonly Queue<(ReadOnlyMemory<byte> Data, Action? After)> _preamble = new();
    private TaskCompletionSource? _wake;
    private bool _senderStarted;

    internal ReplicaPeer(ClientSession client) => Client = client;

    /// <summary>The replica's connection.</summary>
    public ClientSession Client { get; }

    /// <summary>Sync state.</summary>
    public ReplicaSyncState State { get; internal set; }

    /// <summary>REPLCONF listening-port.</summary>
    public int ListeningPort { get; internal set; }

    /// <summary>REPLCONF ip-address (announced ip), or null.</summary>
    public string? AnnouncedIp { get; internal set; }

    /// <summary>REPLCONF capa eof.</summary>
    public bool CapaEof { get; internal set; }

    /// <summary>REPLCONF capa psync2.</summary>
    public bool CapaPsync2 { get; internal set; }

    /// <summary>REPLCONF rdb-only 1 (redis-cli --rdb): closed after the RDB.</summary>
    public bool RdbOnly { get; internal set; }

    /// <summary>Came in with SYNC (CLIENT_PRE_PSYNC): no +FULLRESYNC line, no ACKs expected.</summary>
    public bool PrePsync { get; internal set; }

    /// <summary>Uses EOF framing for the full sync.</summary>
    public bool EofFraming { get; internal set; }

    /// <summary>repl_ack_off: highest offset acknowledged.</summary>
    public long AckOffset { get; internal set; }

    /// <summary>repl_ack_time (unix ms).</summary>
    public long AckTimeMs { get; internal set; }

    /// <summary>Snapshot offset of the full sync (psync_initial_offset).</summary>
    public long InitialOffset { get; internal set; }

    /// <summary>Position in the shared buffer.</summary>
    public ReplCursor Cursor { get; } = new();

    /// <summary>True once the command stream may be written (after the RDB, and after the first ACK for EOF framing).</summary>
    public bool StreamEnabled { get; internal set; }

    /// <summary>True after an EOF-framed RDB was written, until the first ACK (repl_start_cmd_stream_on_ack).</summary>
    public bool WaitingFirstAck { get; internal set; }

    /// <summary>Unix ms since the soft output-buffer limit has been exceeded (0 = not exceeded).</summary>
    public long SoftLimitSinceMs { get; internal set; }

    /// <summary>True once the replica has been dropped.</summary>
    public bool Closed { get; internal set; }

    /// <summary>Snapshot being sent after the preamble (chunk index and position), then <see cref="FeedDone"/> runs.</summary>
    internal SnapshotFeed? Feed;
    internal int FeedIndex, FeedPos;
    internal Action? FeedDone;

    /// <summary>RDB payload bytes queued (for INFO send_bulk progress).</summary>
    internal long PreambleBytes;

    /// <summary>Peer address text for INFO (announced ip, else the socket's peer address).</summary>
    public string Ip => AnnouncedIp ?? Client.Address?.Address.ToString() ?? "?";

    /// <summary>Queues bytes sent before the stream (caller holds the lock).</summary>
    internal void Enqueue(ReadOnlyMemory<byte> data, Action? after = null)
    {
        _preamble.Enqueue((data, after));
        PreambleBytes += data.Length;
        Wake();
    }

    /// <summary>True while preamble bytes wait to be sent.</summary>
    internal bool HasPreamble => _preamble.Count > 0;

    /// <summary>Wakes the sender (caller holds the lock).</summary>
    internal void Wake()
    {
        var w = _wake;
        _wake = null;
        w?.TrySetResult();
    }

    /// <summary>Queued for the end-of-batch flush (ReplicationManager.FlushPendingReplicas).</summary>
    internal bool FlushPending;

    // A stream send started by SendInline that did not complete at once; the sender task finishes it.
    private Task<int>? _inflight;

    /// <summary>
    /// Sends the stream bytes this replica has not received yet from the calling thread (caller holds the lock), as
    /// long as the socket takes them without waiting; only when the sender task is parked with nothing else to send
    /// (no preamble, no RDB feed). On a non-blocking (event-loop) socket a full buffer returns true: retry at the next
    /// flush. Otherwise a send that would wait is handed to the sender task, which then owns the socket.
    /// </summary>
    internal bool SendInline(ReplicationManager m)
    {
        if (Closed || Client.IsClosed) return false;
        var sock = Client.Socket;
        if (_wake is null || !StreamEnabled || _preamble.Count > 0 || Feed is not null || _inflight is not null || sock is null)
        {
            Wake();
            return false;
        }
        var server = m.Server;
        while (true)
        {
            var mem = m.Buffer.Peek(Cursor);
            if (mem.IsEmpty) return false;
            int n;
            if (!sock.Blocking)
            {
                // Event-loop client (non-blocking socket): a full socket buffer leaves the rest for the next flush,
                // so the sender task stays parked and never competes for the lock under load.
                try
                {
                    n = sock.Send(mem.Span, SocketFlags.None, out var err);
                    if (err == SocketError.WouldBlock) return true;
                    if (err != SocketError.Success) { Wake(); return false; } // the sender meets it and drops the link
                }
                catch (ObjectDisposedException) { return false; }
            }
            else
            {
                ValueTask<int> vt;
                try { vt = sock.SendAsync(mem, SocketFlags.None); }
                catch (Exception) { Wake(); return false; } // the sender meets the same error and drops the link
                if (!vt.IsCompletedSuccessfully)
                {
                    _inflight = vt.AsTask();
                    Wake();
                    return false;
                }
                n = vt.Result;
            }
            Interlocked.Add(ref server.Stats.NetReplOutputBytes, n);
            Interlocked.Add(ref server.Stats.NetOutputBytes, n);
            m.Buffer.Advance(Cursor, n);
        }
    }

    /// <summary>Starts the sender task once.</summary>
    internal void StartSender(ReplicationManager m)
    {
        if (_senderStarted) return;
        _senderStarted = true;
        _ = Task.Run(() => SendLoopAsync(m));
    }

    private async Task SendLoopAsync(ReplicationManager m)
    {
        var server = m.Server;
        var sock = Client.Socket;
        if (sock is null) return;
        try
        {
            while (true)
            {
                ReadOnlyMemory<byte> mem;
                Task? wait = null;
                bool fromStream = false, fromFeed = false;
                Task<int>? inflight;
                lock (server.ExecLock)
                {
                    if (Closed || Client.IsClosed) return;
                    mem = ReadOnlyMemory<byte>.Empty;
                    inflight = _inflight;
                    _inflight = null;
                }
                if (inflight is not null)
                {
                    // Finish a stream send SendInline started.
                    int sent = await inflight.ConfigureAwait(false);
                    lock (server.ExecLock)
                    {
                        if (Closed) return;
                        Interlocked.Add(ref server.Stats.NetReplOutputBytes, sent);
                        Interlocked.Add(ref server.Stats.NetOutputBytes, sent);
                        m.Buffer.Advance(Cursor, sent);
                    }
                    continue;
                }
                lock (server.ExecLock)
                {
                    if (Closed || Client.IsClosed) return;
                    while (_preamble.Count > 0)
                    {
                        var (d, after) = _preamble.Peek();
                        if (d.Length > 0) { mem = d; break; }
                        _preamble.Dequeue();
                        after?.Invoke();
                        if (Closed) return;
                    }
                    if (mem.IsEmpty && _preamble.Count == 0 && Feed is { } feed)
                    {
                        var (chunk, done, w) = feed.TryGet(FeedIndex);
                        if (!chunk.IsEmpty) { mem = chunk[FeedPos..]; fromFeed = true; }
                        else if (done)
                        {
                            Feed = null;
                            if (feed.Error is not null) { m.DropReplica(this, "snapshot failed"); return; }
                            var after = FeedDone;
                            FeedDone = null;
                            after?.Invoke();
                            continue;
                        }
                        else wait = w;
                    }
                    if (mem.IsEmpty && wait is null && StreamEnabled && _preamble.Count == 0 && Feed is null)
                    {
                        mem = m.Buffer.Peek(Cursor);
                        fromStream = true;
                    }
                    if (mem.IsEmpty)
                    {
                        _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        wait = wait is null ? _wake.Task : Task.WhenAny(wait, _wake.Task);
                    }
                }
                if (wait is not null)
                {
                    await wait.ConfigureAwait(false);
                    continue;
                }
                int n = await sock.SendAsync(mem, SocketFlags.None).ConfigureAwait(false);
                lock (server.ExecLock)
                {
                    if (Closed) return;
                    Interlocked.Add(ref server.Stats.NetReplOutputBytes, n);
                    Interlocked.Add(ref server.Stats.NetOutputBytes, n);
                    if (fromStream) m.Buffer.Advance(Cursor, n);
                    else if (fromFeed)
                    {
                        FeedPos += n;
                        if (n == mem.Length) { FeedIndex++; FeedPos = 0; }
                    }
                    else
                    {
                        var (d, after) = _preamble.Dequeue();
                        PreambleBytes -= n;
                        if (n < d.Length)
                        {
                            // Put the rest back at the front.
                            var rest = new Queue<(ReadOnlyMemory<byte>, Action?)>();
                            rest.Enqueue((d[n..], after));
                            while (_preamble.Count > 0) rest.Enqueue(_preamble.Dequeue());
                            while (rest.Count > 0) _preamble.Enqueue(rest.Dequeue());
                        }
                        else after?.Invoke();
                    }
                }
            }
        }
        catch (Exception e)
        {
            lock (server.ExecLock)
            {
                if (!Closed)
                {
                    if (e is SocketException or ObjectDisposedException) server.Log.LogWarning("Connection with replica {Ip}:{Port} lost.", Ip, ListeningPort);
                    else server.Log.LogWarning(e, "Replica {Ip}:{Port} sender failed", Ip, ListeningPort);
                }
            }
            Client.Close("replica write error");
        }
    }
}
