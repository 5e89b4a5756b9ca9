using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kv.Resp;
using Kv.Server;
using Kv.Storage;
using Microsoft.Extensions.Logging;

namespace Kv.Replication;

/// <summary>Replica-side link states (server.repl_state), grouped as ROLE reports them.</summary>
public enum LinkState
{
    /// <summary>Must connect (REPL_STATE_CONNECT).</summary>
    Connect,
    /// <summary>TCP connect in progress.</summary>
    Connecting,
    /// <summary>PING .. PSYNC reply.</summary>
    Handshake,
    /// <summary>Receiving / loading the RDB.</summary>
    Transfer,
    /// <summary>Streaming (REPL_STATE_CONNECTED).</summary>
    Connected,
}

/// <summary>
/// The replica side of replication (replication.c syncWithMaster / readSyncBulkPayload / replicationCron): connects
/// to the master, runs the handshake in 7.0.15's order (PING, [AUTH], REPLCONF listening-port, [ip-address],
/// capa eof psync2, PSYNC), receives and loads the RDB in either framing into fresh databases (swapped in only
/// when the load succeeded), then applies the stream through a master client whose replies are suppressed except
/// REPLCONF ACK. Applied bytes are proxied unchanged into our own buffer (chained replicas see the same ids and
/// offsets). Lost links are retried every second with PSYNC from the cached master.
/// </summary>
public sealed class ReplicaLink
{
    /// <summary>A cached master: the replid/offset/db to PSYNC with after a lost link or restart.</summary>
    public sealed record CachedMaster(string ReplId, long Offset, int Db);

    private readonly ReplicationManager _m;
    private readonly KvServer _server;
    private readonly CancellationTokenSource _cts = new();
    private Socket? _sock;
    private ClientSession? _master;
    private CachedMaster? _cached;
    private bool _stopped;
    private long _readReplOff;
    private long _lastIoMs;
    private long _downSinceMs;
    private long _transferSize = -1, _transferRead;
    private byte[] _unproxied = new byte[16 * 1024];
    private int _unproxiedLen, _unproxiedStart;
    private readonly byte[] _rbuf = new byte[64 * 1024];
    private int _rpos, _rlen;

    internal ReplicaLink(ReplicationManager m, string host, int port, CachedMaster? cached)
    {
        _m = m;
        _server = m.Server;
        Host = host;
        Port = port;
        _cached = cached;
    }

    /// <summary>Master host.</summary>
    public string Host { get; }

    /// <summary>Master port.</summary>
    public int Port { get; }

    /// <summary>Link state.</summary>
    public LinkState State { get; private set; } = LinkState.Connect;

    /// <summary>True when streaming from the master (master_link_status:up).</summary>
    public bool IsConnected => State == LinkState.Connected;

    /// <summary>True while a master client exists.</summary>
    public bool HasMasterClient => _master is not null;

    /// <summary>True while a cached master exists.</summary>
    public bool HasCachedMaster => _cached is not null;

    /// <summary>Database selected in the master's stream (repl-stream-db for our own RDB).</summary>
    public int StreamDb => _master?.DbIndex ?? _cached?.Db ?? 0;

    internal void SetCachedMaster(string replId, long offset, int db) => _cached = new CachedMaster(replId, offset, db);

    internal void Start() => _ = Task.Run(RunAsync);

    /// <summary>Stops the link (caller holds the lock); returns the cached master to PSYNC a new master with.</summary>
    internal CachedMaster? Stop()
    {
        _stopped = true;
        _cts.Cancel();
        if (_master is { } mc)
        {
            _cached = new CachedMaster(_m.ReplId, _m.Buffer.MasterReplOffset, mc.DbIndex);
            _master = null;
            mc.Close("replicaof changed");
        }
        try { _sock?.Dispose(); } catch (Exception) { }
        return _cached;
    }

    private ILogger Log => _server.Log;

    private async Task RunAsync()
    {
        bool first = true;
        while (true)
        {
            lock (_server.ExecLock)
            {
                if (_stopped || _server.IsStopping) return;
                State = LinkState.Connecting;
            }
            if (!first) await Task.Delay(1000).ConfigureAwait(false);
            first = false;
            lock (_server.ExecLock) if (_stopped || _server.IsStopping) return;
            bool wasConnected = false;
            try
            {
                wasConnected = await ConnectAndSyncAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                lock (_server.ExecLock)
                {
                    if (_stopped || _server.IsStopping) return;
                    if (e is OperationCanceledException) Log.LogWarning("Timeout connecting to the MASTER...");
                    else Log.LogWarning("Error condition on socket for SYNC: {Error}", e.Message);
                }
            }
            lock (_server.ExecLock)
            {
                if (_stopped || _server.IsStopping) return;
                if (_master is { } mc)
                {
                    _cached = mc.IsClosed && _discardCached ? null : new CachedMaster(_m.ReplId, _m.Buffer.MasterReplOffset, mc.DbIndex);
                    _master = null;
                    mc.Close("master link lost");
                }
                _discardCached = false;
                if (wasConnected)
                {
                    Log.LogWarning("Connection with master lost.");
                    Log.LogInformation("* Caching the disconnected master state.");
                    first = true; // reconnect at once after losing a working link
                }
                if (_downSinceMs == 0 || wasConnected) _downSinceMs = KvServer.UnixMs();
                State = LinkState.Connect;
            }
            try { _sock?.Dispose(); } catch (Exception) { }
            _rpos = _rlen = 0;
        }
    }

    private bool _discardCached;

    private long TimeoutMs => Math.Max(1, _server.Config.GetLong("repl-timeout")) * 1000;

    /// <summary>One attempt: connect, handshake, sync, stream until the link breaks. Returns true if it reached CONNECTED.</summary>
    private async Task<bool> ConnectAndSyncAsync()
    {
        Log.LogInformation("Connecting to MASTER {Host}:{Port}", Host, Port);
        var sock = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        lock (_server.ExecLock)
        {
            if (_stopped) { sock.Dispose(); return false; }
            _sock = sock;
        }
        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token))
        {
            cts.CancelAfter((int)Math.Min(int.MaxValue, TimeoutMs));
            await sock.ConnectAsync(Host, Port, cts.Token).ConfigureAwait(false);
        }
        Log.LogInformation("MASTER <-> REPLICA sync started");
        lock (_server.ExecLock) { State = LinkState.Handshake; _lastIoMs = KvServer.UnixMs(); }

        // PING: any +reply, or an auth error (we authenticate next), is fine.
        await SendAsync(Cmd("PING")).ConfigureAwait(false);
        var pong = await ReadLineAsync().ConfigureAwait(false);
        if (pong.StartsWith('-') && !pong.StartsWith("-NOAUTH") && !pong.StartsWith("-NOPERM") && !pong.StartsWith("-ERR operation not permitted"))
            throw new IOException("Error reply to PING from master: '" + pong + "'");
        Log.LogInformation("Master replied to PING, replication can continue...");

        // AUTH, REPLCONF listening-port, [ip-address], capa: written back to back, replies read one by one.
        var cfg = _server.Config;
        var batch = new List<byte[]>();
        string auth = cfg.Get("masterauth"), user = cfg.Get("masteruser");
        if (auth.Length > 0) batch.Add(user.Length > 0 ? Cmd("AUTH", user, auth) : Cmd("AUTH", auth));
        long announcePort = cfg.GetLong("replica-announce-port");
        batch.Add(Cmd("REPLCONF", "listening-port", (announcePort != 0 ? announcePort : _server.Port).ToString(CultureInfo.InvariantCulture)));
        var announceIp = cfg.Get("replica-announce-ip");
        if (announceIp.Length > 0) batch.Add(Cmd("REPLCONF", "ip-address", announceIp));
        batch.Add(Cmd("REPLCONF", "capa", "eof", "capa", "psync2"));
        await SendAsync(batch.SelectMany(b => b).ToArray()).ConfigureAwait(false);
        if (auth.Length > 0)
        {
            var r = await ReadLineAsync().ConfigureAwait(false);
            if (r.StartsWith('-')) throw new IOException("Unable to AUTH to MASTER: " + r);
        }
        var rp = await ReadLineAsync().ConfigureAwait(false);
        if (rp.StartsWith('-')) Log.LogInformation("(Non critical) Master does not understand REPLCONF listening-port: {R}", rp);
        if (announceIp.Length > 0)
        {
            var ri = await ReadLineAsync().ConfigureAwait(false);
            if (ri.StartsWith('-')) Log.LogInformation("(Non critical) Master does not understand REPLCONF ip-address: {R}", ri);
        }
        var rc = await ReadLineAsync().ConfigureAwait(false);
        if (rc.StartsWith('-')) Log.LogInformation("(Non critical) Master does not understand REPLCONF capa: {R}", rc);

        // PSYNC from the cached master, or ? -1; with FAILOVER appended while we hand over as the old master.
        CachedMaster? cached;
        bool failover;
        lock (_server.ExecLock) { cached = _cached; failover = _m.FailoverInProgress; }
        string psyncId = cached?.ReplId ?? "?";
        string psyncOff = cached is null ? "-1" : (cached.Offset + 1).ToString(CultureInfo.InvariantCulture);
        if (cached is not null) Log.LogInformation("Trying a partial resynchronization (request {Id}:{Off}).", psyncId, psyncOff);
        else Log.LogInformation("Partial resynchronization not possible (no cached master)");
        try
        {
            await SendAsync(failover ? Cmd("PSYNC", psyncId, psyncOff, "FAILOVER") : Cmd("PSYNC", psyncId, psyncOff)).ConfigureAwait(false);
        }
        catch (Exception) when (failover)
        {
            lock (_server.ExecLock) if (!_stopped) _m.FailoverPsyncResult(false, "Write error to failover target");
            throw;
        }
        string reply;
        try
        {
            reply = await ReadLineAsync(skipEmpty: true).ConfigureAwait(false);
        }
        catch (Exception) when (failover)
        {
            lock (_server.ExecLock) if (!_stopped) _m.FailoverPsyncResult(false, "Failover target rejected psync request");
            throw;
        }
        if (failover)
        {
            // A planned failover expects +CONTINUE; a full resync is also acceptable (syncWithMaster).
            bool ok = reply.StartsWith("+CONTINUE", StringComparison.Ordinal) || reply.StartsWith("+FULLRESYNC", StringComparison.Ordinal);
            lock (_server.ExecLock)
            {
                if (_stopped) return false;
                _m.FailoverPsyncResult(ok, "Failover target rejected psync request");
                if (!ok)
                {
                    Log.LogWarning("Failover target answered PSYNC FAILOVER with: {Reply}", reply);
                    return false;
                }
            }
        }
        if (reply.StartsWith("+FULLRESYNC", StringComparison.Ordinal))
        {
            var parts = reply.Split(' ');
            if (parts.Length < 3 || parts[1].Length != 40 || !long.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var off))
                throw new IOException("Bad +FULLRESYNC reply: " + reply);
            Log.LogInformation("Full resync from master: {Id}:{Off}", parts[1], off);
            lock (_server.ExecLock) _cached = null; // replicationDiscardCachedMaster
            await FullSyncAsync(parts[1], off).ConfigureAwait(false);
        }
        else if (reply.StartsWith("+CONTINUE", StringComparison.Ordinal))
        {
            var newId = reply.Length > 10 ? reply[10..].Trim() : null;
            lock (_server.ExecLock)
            {
                if (_stopped || cached is null) return false;
                Log.LogInformation("Successful partial resynchronization with master.");
                if (!_m.Buffer.HasBacklog) _m.Buffer.CreateBacklog(cached.Offset);
                if (newId is { Length: 40 } && newId != cached.ReplId)
                {
                    Log.LogInformation("Master replication ID changed to {Id}", newId);
                    _m.SwitchMasterId(newId);
                }
                _cached = null;
                CreateMasterClient(cached.Offset, cached.Db);
                Log.LogInformation("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
            }
        }
        else if (reply.StartsWith("-NOMASTERLINK") || reply.StartsWith("-LOADING"))
        {
            Log.LogInformation("Master is currently unable to PSYNC but should be in the future: {R}", reply);
            return false;
        }
        else throw new IOException("Unexpected reply to PSYNC from master: " + reply);

        await StreamAsync().ConfigureAwait(false);
        return true;
    }

    private async Task FullSyncAsync(string replId, long offset)
    {
        lock (_server.ExecLock) { State = LinkState.Transfer; _transferSize = -1; _transferRead = 0; }
        string header = await ReadLineAsync(skipEmpty: true).ConfigureAwait(false);
        if (header.StartsWith('-')) throw new IOException("MASTER aborted replication with an error: " + header);
        if (!header.StartsWith('$')) throw new IOException("Bad protocol from MASTER, the first byte is not '$' (we received '" + header + "'), are you sure the host and port are right?");
        byte[]? mark = null;
        long len = 0;
        if (header.StartsWith("$EOF:", StringComparison.Ordinal) && header.Length == 45)
        {
            mark = Encoding.ASCII.GetBytes(header[5..]);
            Log.LogInformation("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
            lock (_server.ExecLock) _transferSize = 0;
        }
        else
        {
            if (!long.TryParse(header.AsSpan(1), NumberStyles.Integer, CultureInfo.InvariantCulture, out len) || len < 0)
                throw new IOException("Bad bulk length from MASTER: " + header);
            Log.LogInformation("MASTER <-> REPLICA sync: receiving {Len} bytes from master to disk", len);
            lock (_server.ExecLock) _transferSize = len;
        }
        // The loader parses the payload while it arrives, into fresh databases (swapped in only on success).
        Log.LogInformation("MASTER <-> REPLICA sync: Loading DB in memory");
        int n = _server.Databases.Length;
        var fresh = new RedisDb[n];
        for (int i = 0; i < n; i++) fresh[i] = new RedisDb(i);
        var pipe = new ChunkPipeStream();
        var loadTask = Task.Factory.StartNew(() => _m.Rdb.Load(pipe, fresh), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        using var loadDone = new CancellationTokenSource();
        var keepalive = Task.Run(async () =>
        {
            // Keepalive newlines to the master while loading (at most one per second).
            try
            {
                while (!loadDone.IsCancellationRequested)
                {
                    await Task.Delay(1000, loadDone.Token).ConfigureAwait(false);
                    await SendAsync("\n"u8.ToArray()).ConfigureAwait(false);
                }
            }
            catch (Exception) { }
        });
        ReplRdbInfo info;
        try
        {
            // Received straight into the pipe's buffers, handed to the loader once 16 KiB or more are in.
            const int HandOff = 16 * 1024;
            var buf = pipe.Rent();
            int have = 0;
            if (mark is not null)
            {
                // The last 40 bytes received may be the EOF mark: they are held back, and start the next buffer.
                have = TakeBuffered(buf, buf.Length);
                while (!loadTask.IsFaulted)
                {
                    if (have >= 40 && buf.AsSpan(have - 40, 40).SequenceEqual(mark))
                    {
                        pipe.AddOwned(buf, 0, have - 40);
                        buf = null;
                        break;
                    }
                    if (have - 40 >= HandOff || have == buf.Length)
                    {
                        var next = pipe.Rent();
                        buf.AsSpan(have - 40, 40).CopyTo(next);
                        pipe.AddOwned(buf, 0, have - 40);
                        buf = next;
                        have = 40;
                    }
                    have += await ReceiveIntoAsync(buf.AsMemory(have)).ConfigureAwait(false);
                }
            }
            else
            {
                long left = len;
                have = TakeBuffered(buf, (int)Math.Min(left, buf.Length));
                left -= have;
                while (!loadTask.IsFaulted)
                {
                    if (have >= HandOff || have == buf.Length || left == 0)
                    {
                        pipe.AddOwned(buf, 0, have);
                        buf = null;
                        if (left == 0) break;
                        buf = pipe.Rent();
                        have = 0;
                    }
                    int got = await ReceiveIntoAsync(buf.AsMemory(have, (int)Math.Min(left, buf.Length - have))).ConfigureAwait(false);
                    have += got;
                    left -= got;
                }
            }
            pipe.Finish();
            info = await loadTask.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            pipe.Finish(e);
            loadDone.Cancel();
            try { await loadTask.ConfigureAwait(false); } catch (Exception) { }
            Log.LogWarning("Failed trying to load the MASTER synchronization DB from socket, keeping the old dataset: {Error}", e.Message);
            throw new IOException("RDB transfer/load failed: " + e.Message, e);
        }
        finally
        {
            loadDone.Cancel();
            try { await keepalive.ConfigureAwait(false); } catch (Exception) { }
        }
        lock (_server.ExecLock)
        {
            if (_stopped) return;
            Log.LogInformation("MASTER <-> REPLICA sync: Flushing old data");
            // WATCHed keys (touchAllWatchedKeysInDb): with repl-diskless-load swapdb redis swaps the loaded db in
            // and touches keys present in either; otherwise it empties the old dataset first (emptyData), which
            // touches the keys that existed in it. Loading itself touches nothing.
            bool swapdb = _server.Config.Get("repl-diskless-load") == "swapdb";
            for (int i = 0; i < n; i++)
            {
                RedisDb old = _server.Databases[i], loaded = fresh[i];
                _server.Watches.TouchDbWhere(i, k => old.Main.TryGetValue(k, out _) || (swapdb && loaded.Main.TryGetValue(k, out _)));
                // Loading signals no key as ready (7.0's dbAddRDBLoad): clients blocked on the replica keep waiting.
                old.SwapWith(loaded);
            }
            _m.AdoptMaster(replId, offset);
            int db = info.StreamDb >= 0 && info.StreamDb < n ? info.StreamDb : 0;
            CreateMasterClient(offset, db);
            Log.LogInformation("MASTER <-> REPLICA sync: Finished with success");
        }
    }

    /// <summary>Creates the master client at <paramref name="offset"/> and sends the first ACK (caller holds the lock).</summary>
    private void CreateMasterClient(long offset, int db)
    {
        var mc = _server.CreateDetachedClient(_sock);
        mc.IsMaster = true;
        mc.SuppressReplies = true;
        mc.Authenticated = true;
        mc.DbIndex = db;
        mc.AfterCommand = OnMasterCommand;
        mc.OnClose = c =>
        {
            if (_master == c && !_stopped) _discardCached = true;
            // The socket is closed with the client: a stream read on the event loop gets no EOF event for it.
            if (_master == c) _loopStreamDone?.TrySetResult();
        };
        _master = mc;
        _readReplOff = offset;
        _unproxiedLen = _unproxiedStart = 0;
        _lastIoMs = KvServer.UnixMs();
        _downSinceMs = 0;
        State = LinkState.Connected;
        // Bytes that arrived right after the payload belong to the stream.
        if (_rpos < _rlen)
        {
            var rest = _rbuf.AsSpan(_rpos, _rlen - _rpos);
            _rpos = _rlen = 0;
            Apply(rest);
        }
        WriteAck(mc);
        mc.ScheduleFlush();
    }

    private async Task StreamAsync()
    {
        var sock = _sock!;
        var buf = new byte[64 * 1024];
        if (_server.Loop is { } loop && await StreamOnLoopAsync(loop, sock, buf).ConfigureAwait(false)) return;
        while (true)
        {
            int n = await sock.ReceiveAsync(buf, SocketFlags.None, _cts.Token).ConfigureAwait(false);
            if (n == 0) return;
            lock (_server.ExecLock)
            {
                if (_stopped || _master is null || _master.IsClosed) return;
                Apply(buf.AsSpan(0, n));
            }
        }
    }

    /// <summary>
    /// Reads the stream on the client event loop, as redis reads its master in the same ae loop as its clients: one
    /// thread then applies the stream and serves the clients, and neither waits for the other to release the
    /// execution lock. One read of up to 64 KiB per readable event, like any client. Returns false when the loop
    /// refused the socket (the caller reads it as a task); completes when the link ends (EOF, error, stop, master
    /// client closed).
    /// </summary>
    private async Task<bool> StreamOnLoopAsync(Server.EpollLoop loop, Socket sock, byte[] buf)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_server.ExecLock)
        {
            if (_stopped || _master is null || _master.IsClosed) return true;
            _loopStreamDone = done;
        }
        Server.EpollLoop.Reader? reader = null;
        void OnReadable()
        {
            try
            {
                int n;
                SocketError err;
                try { n = sock.Receive(buf, SocketFlags.None, out err); }
                catch (ObjectDisposedException) { n = 0; err = SocketError.Shutdown; }
                if (err == SocketError.WouldBlock) return;
                if (err != SocketError.Success || n == 0)
                {
                    reader?.Remove();
                    done.TrySetResult();
                    return;
                }
                lock (_server.ExecLock)
                {
                    if (_stopped || _master is null || _master.IsClosed)
                    {
                        reader?.Remove();
                        done.TrySetResult();
                        return;
                    }
                    Apply(buf.AsSpan(0, n));
                }
            }
            catch (Exception e)
            {
                reader?.Remove();
                done.TrySetException(e);
            }
        }
        reader = loop.AddReader(sock, OnReadable);
        if (reader is null)
        {
            sock.Blocking = true;
            return false;
        }
        using (_cts.Token.Register(() => done.TrySetResult()))
        {
            try { await done.Task.ConfigureAwait(false); }
            finally { reader.Remove(); }
        }
        return true;
    }

    // Completed when the master client closes (OnClose) while the stream is read on the event loop.
    private TaskCompletionSource? _loopStreamDone;

    /// <summary>Feeds stream bytes to the master client and executes every complete command (caller holds the lock).</summary>
    private void Apply(ReadOnlySpan<byte> data)
    {
        var mc = _master!;
        _lastIoMs = KvServer.UnixMs();
        _readReplOff += data.Length;
        Interlocked.Add(ref _server.Stats.NetReplInputBytes, data.Length);
        Interlocked.Add(ref _server.Stats.NetInputBytes, data.Length);
        if (_unproxiedStart > 0)
        {
            System.Buffer.BlockCopy(_unproxied, _unproxiedStart, _unproxied, 0, _unproxiedLen - _unproxiedStart);
            _unproxiedLen -= _unproxiedStart;
            _unproxiedStart = 0;
        }
        if (_unproxiedLen + data.Length > _unproxied.Length)
            Array.Resize(ref _unproxied, Math.Max(_unproxied.Length * 2, _unproxiedLen + data.Length));
        data.CopyTo(_unproxied.AsSpan(_unproxiedLen));
        _unproxiedLen += data.Length;
        mc.FeedInput(data);
        mc.ProcessInput();
        mc.ScheduleFlush();
    }

    /// <summary>
    /// After each command from the master: outside MULTI, reploff becomes read_reploff minus the unparsed bytes and
    /// the newly applied bytes are proxied into our own buffer (replicationFeedStreamFromMasterStream).
    /// </summary>
    private void OnMasterCommand(ClientSession c, Request req)
    {
        if (c.MultiQueue is not null || c != _master) return;
        long applied = _readReplOff - c.QueryBufferLength;
        long d = applied - _m.Buffer.MasterReplOffset;
        if (d <= 0 || d > _unproxiedLen - _unproxiedStart) return;
        _m.FeedStream(_unproxied.AsSpan(_unproxiedStart, (int)d));
        _unproxiedStart += (int)d;
        if (_unproxiedStart == _unproxiedLen) _unproxiedStart = _unproxiedLen = 0;
    }

    /// <summary>Queues REPLCONF ACK &lt;reploff&gt; on the master client (caller holds the lock).</summary>
    internal void WriteAck(ClientSession mc) => mc.Out.WriteRaw(ReplicationManager.AckCommand(_m.Buffer.MasterReplOffset));

    /// <summary>1-second work: ACK the master, detect a silent master.</summary>
    internal void Cron(long nowMs)
    {
        if (_master is { } mc && State == LinkState.Connected)
        {
            if (nowMs - _lastIoMs > TimeoutMs)
            {
                Log.LogWarning("MASTER timeout: no data nor PING received...");
                try { _sock?.Shutdown(SocketShutdown.Both); } catch (Exception) { }
                return;
            }
            WriteAck(mc);
            mc.ScheduleFlush();
        }
    }

    // ---------------------------------------------------------------- INFO / ROLE

    internal void AppendInfo(StringBuilder sb, long nowMs)
    {
        long reploff = _master is not null ? _m.Buffer.MasterReplOffset : _cached?.Offset ?? 1;
        long readoff = _master is not null ? _readReplOff : _cached?.Offset ?? 1;
        sb.Append("role:slave\r\n")
          .Append("master_host:").Append(Host).Append("\r\n")
          .Append("master_port:").Append(Port).Append("\r\n")
          .Append("master_link_status:").Append(IsConnected ? "up" : "down").Append("\r\n")
          .Append("master_last_io_seconds_ago:").Append(_master is not null ? (nowMs - _lastIoMs) / 1000 : -1).Append("\r\n")
          .Append("master_sync_in_progress:").Append(State == LinkState.Transfer ? 1 : 0).Append("\r\n")
          .Append("slave_read_repl_offset:").Append(readoff).Append("\r\n")
          .Append("slave_repl_offset:").Append(reploff).Append("\r\n");
        if (State == LinkState.Transfer)
        {
            long total = Math.Max(0, _transferSize);
            double perc = total > 0 ? _transferRead * 100.0 / total : 0;
            sb.Append("master_sync_total_bytes:").Append(total).Append("\r\n")
              .Append("master_sync_read_bytes:").Append(_transferRead).Append("\r\n")
              .Append("master_sync_left_bytes:").Append(total - _transferRead).Append("\r\n")
              .Append("master_sync_perc:").Append(perc.ToString("F2", CultureInfo.InvariantCulture)).Append("\r\n")
              .Append("master_sync_last_io_seconds_ago:").Append((nowMs - _lastIoMs) / 1000).Append("\r\n");
        }
        if (!IsConnected)
            sb.Append("master_link_down_since_seconds:").Append(_downSinceMs != 0 ? (nowMs - _downSinceMs) / 1000 : -1).Append("\r\n");
        sb.Append("slave_priority:").Append(_server.Config.GetLong("replica-priority")).Append("\r\n")
          .Append("slave_read_only:").Append(_server.Config.GetBool("replica-read-only") ? 1 : 0).Append("\r\n")
          .Append("replica_announced:").Append(_server.Config.GetBool("replica-announced") ? 1 : 0).Append("\r\n");
    }

    internal void AppendRole(ReplyWriter r)
    {
        r.ArrayHeader(5);
        r.Bulk("slave"u8);
        r.Bulk(Host);
        r.Integer(Port);
        r.Bulk(State switch
        {
            LinkState.Connect => "connect",
            LinkState.Connecting => "connecting",
            LinkState.Handshake => "handshake",
            LinkState.Transfer => "sync",
            _ => "connected",
        });
        r.Integer(_master is not null ? _m.Buffer.MasterReplOffset : -1);
    }

    // ---------------------------------------------------------------- socket helpers

    private static byte[] Cmd(params string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
        {
            var b = Encoding.UTF8.GetByteCount(a);
            sb.Append('$').Append(b).Append("\r\n").Append(a).Append("\r\n");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private async Task SendAsync(byte[] data)
    {
        var sock = _sock ?? throw new IOException("no socket");
        var mem = data.AsMemory();
        while (mem.Length > 0)
        {
            int n = await sock.SendAsync(mem, SocketFlags.None, _cts.Token).ConfigureAwait(false);
            mem = mem[n..];
        }
    }

    /// <summary>Moves up to <paramref name="max"/> bytes already received (after the last line read) into <paramref name="dst"/>.</summary>
    private int TakeBuffered(byte[] dst, int max)
    {
        int n = Math.Min(max, _rlen - _rpos);
        System.Buffer.BlockCopy(_rbuf, _rpos, dst, 0, n);
        _rpos += n;
        lock (_server.ExecLock) _transferRead += n;
        return n;
    }

    /// <summary>Receives into <paramref name="dst"/> (the full-sync payload), with the link's timeout and statistics.</summary>
    private async Task<int> ReceiveIntoAsync(Memory<byte> dst)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        cts.CancelAfter((int)Math.Min(int.MaxValue, TimeoutMs));
        int n = await _sock!.ReceiveAsync(dst, SocketFlags.None, cts.Token).ConfigureAwait(false);
        if (n == 0) throw new IOException("connection closed by master");
        lock (_server.ExecLock)
        {
            _lastIoMs = KvServer.UnixMs();
            Interlocked.Add(ref _server.Stats.NetReplInputBytes, n);
            _transferRead += n;
        }
        return n;
    }

    private async Task FillAsync()
    {
        if (_rpos == _rlen) _rpos = _rlen = 0;
        if (_rlen == _rbuf.Length)
        {
            System.Buffer.BlockCopy(_rbuf, _rpos, _rbuf, 0, _rlen - _rpos);
            _rlen -= _rpos;
            _rpos = 0;
        }
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        cts.CancelAfter((int)Math.Min(int.MaxValue, TimeoutMs));
        int n = await _sock!.ReceiveAsync(_rbuf.AsMemory(_rlen), SocketFlags.None, cts.Token).ConfigureAwait(false);
        if (n == 0) throw new IOException("connection closed by master");
        _rlen += n;
        lock (_server.ExecLock)
        {
            _lastIoMs = KvServer.UnixMs();
            Interlocked.Add(ref _server.Stats.NetReplInputBytes, n);
        }
    }

    /// <summary>Reads one line (CRLF or a bare LF), without the terminator. Empty lines are keepalives.</summary>
    private async Task<string> ReadLineAsync(bool skipEmpty = false)
    {
        while (true)
        {
            int nl = Array.IndexOf(_rbuf, (byte)'\n', _rpos, _rlen - _rpos);
            if (nl < 0)
            {
                if (_rlen - _rpos > 64 * 1024 - 1) throw new IOException("line too long from master");
                await FillAsync().ConfigureAwait(false);
                continue;
            }
            int end = nl > _rpos && _rbuf[nl - 1] == '\r' ? nl - 1 : nl;
            var line = Encoding.UTF8.GetString(_rbuf, _rpos, end - _rpos);
            _rpos = nl + 1;
            if (line.Length == 0 && skipEmpty) continue;
            return line;
        }
    }
}
