using System.Globalization;
using System.Text;
using Kv.Commands;
using Kv.Server;
using Microsoft.Extensions.Logging;

namespace Kv.Replication;

/// <summary>
/// Redis 7.0.15 master/replica replication for a <see cref="KvServer"/> (replication.c): replication ids
/// (replid/replid2/second_replid_offset, PSYNC2), the shared <see cref="ReplBuffer"/>, the propagation sink that
/// frames the stream (SELECT injection, MULTI/EXEC), the master side (REPLCONF, PSYNC/SYNC, full sync at an exact
/// offset with disk or EOF framing, ACKs, WAIT, min-replicas, timeouts, output-buffer limits, backlog TTL) and,
/// through <see cref="ReplicaLink"/>, the replica side. All state is guarded by the server's execution lock.
/// </summary>
public sealed partial class ReplicationManager : IServerExtension, IPropagationSink, IReplicationControl
{
    private const string ZeroId = "0000000000000000000000000000000000000000";
    private static readonly byte[] PingCmd = "*1\r\n$4\r\nping\r\n"u8.ToArray();
    private static readonly byte[] GetAckCmd = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"u8.ToArray();

    private KvServer _server = null!;
    private byte[] _enc = new byte[4096];
    private int _encLen;
    private int _slaveSelDb = -1;
    private long _lastSecond;
    private long _cronLoops;
    private long _noReplicasSinceMs;
    private bool _getAckPending;
    private SnapshotJob? _job;
    private long _waitBgsaveSinceMs;
    private readonly List<WaitEntry> _waiters = [];

    /// <summary>Creates the component; <paramref name="rdb"/> provides snapshots and loading for full syncs.</summary>
    public ReplicationManager(IReplicationRdb rdb) => Rdb = rdb;

    /// <summary>The RDB provider.</summary>
    public IReplicationRdb Rdb { get; }

    /// <summary>The server.</summary>
    public KvServer Server => _server;

    /// <summary>The shared replication buffer (backlog + replicas).</summary>
    public ReplBuffer Buffer { get; } = new();

    /// <summary>master_replid.</summary>
    public string ReplId { get; private set; } = KvServer.RandomHex(40);

    /// <summary>master_replid2 (all zeros when unset).</summary>
    public string ReplId2 { get; private set; } = ZeroId;

    /// <summary>second_repl_offset (-1 when unset).</summary>
    public long SecondReplIdOffset { get; private set; } = -1;

    /// <summary>Connected replicas (master side), in attach order.</summary>
    public List<ReplicaPeer> Replicas { get; } = [];

    /// <summary>The link to our master when we are a replica, else null.</summary>
    public ReplicaLink? Link { get; private set; }

    /// <inheritdoc/>
    public long MasterReplOffset => Buffer.MasterReplOffset;

    /// <summary>Finds the component attached to a server, or null.</summary>
    public static ReplicationManager? Of(KvServer server) => server.Replication as ReplicationManager;

    /// <inheritdoc/>
    public void Attach(KvServer server)
    {
        _server = server;
        server.PropagationSink = this;
        server.Replication = this;
        server.AfterClientBatch = FlushPendingReplicas;
        Buffer.BacklogSize = server.Config.GetLong("repl-backlog-size");
        if (server.Config.Find("repl-backlog-size") is { } p)
        {
            var prev = p.OnChange;
            p.OnChange = q => { prev?.Invoke(q); lock (server.ExecLock) Buffer.BacklogSize = q.Number; };
        }
        _noReplicasSinceMs = KvServer.UnixMs();
        server.SetInfoSection("replication", InfoReplication);
        var prevMem = server.MemoryInfoExtra;
        server.MemoryInfoExtra = sb => { prevMem?.Invoke(sb); InfoMemory(sb); };
        // Persistence (attached before us) loaded the dump: take its replication aux fields, and give it ours.
        var persistence = server.Extensions.OfType<Kv.Persistence.Persistence>().FirstOrDefault();
        var rof = server.Config.Get("replicaof");
        if (rof.Length > 0)
        {
            var parts = rof.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && int.TryParse(parts[1], out var port)) lock (server.ExecLock) SetMaster(parts[0], port, start: false);
        }
        if (persistence is not null)
        {
            if (persistence.LoadedReplInfo is { } li) RestoreFromRdb(new ReplRdbInfo(li.ReplId, li.ReplOffset, li.StreamDb));
            persistence.ReplInfoProvider = () =>
            {
                var i = InfoForSave();
                return i?.ReplId is null ? null : new Kv.Persistence.RdbReplInfo(Math.Max(0, i.StreamDb), i.ReplId, i.ReplOffset);
            };
        }
        Link?.Start();
    }

    /// <summary>
    /// Adopts replication info restored from an RDB at startup (7.0 rdbPopulateSaveInfo counterpart): a replica
    /// keeps the repl-id/offset/stream-db as its cached master so it can PSYNC; a master takes them as replid2 and
    /// continues the offset (psync after master restart).
    /// </summary>
    public void RestoreFromRdb(ReplRdbInfo info)
    {
        if (info.ReplId is null || info.ReplOffset < 0) return;
        lock (_server.ExecLock)
        {
            if (Link is not null)
            {
                ReplId = info.ReplId;
                ResetBacklogAt(info.ReplOffset);
                Link.SetCachedMaster(info.ReplId, info.ReplOffset, Math.Max(0, info.StreamDb));
            }
            else
            {
                ReplId2 = info.ReplId;
                SecondReplIdOffset = info.ReplOffset + 1;
                ResetBacklogAt(info.ReplOffset);
            }
        }
    }

    /// <summary>Replication info to store as RDB aux fields (rdbPopulateSaveInfo); null when there is none.</summary>
    public ReplRdbInfo? InfoForSave()
    {
        if (Link is not null)
        {
            if (Link.HasMasterClient || Link.HasCachedMaster)
                return new ReplRdbInfo(ReplId, Buffer.MasterReplOffset, Link.StreamDb);
            return null;
        }
        if (!Buffer.HasBacklog) return null;
        return new ReplRdbInfo(ReplId, Buffer.MasterReplOffset, _slaveSelDb < 0 ? 0 : _slaveSelDb);
    }

    // ---------------------------------------------------------------- ids and backlog

    internal void ChangeReplId() => ReplId = KvServer.RandomHex(40);

    internal void ClearReplId2()
    {
        ReplId2 = ZeroId;
        SecondReplIdOffset = -1;
    }

    /// <summary>shiftReplicationId: the current id becomes replid2, valid up to master_repl_offset+1.</summary>
    internal void ShiftReplId(string newId)
    {
        ReplId2 = ReplId;
        SecondReplIdOffset = Buffer.MasterReplOffset + 1;
        ReplId = newId;
    }

    /// <summary>Frees the backlog (disconnecting every replica first) and creates an empty one at <paramref name="offset"/>.</summary>
    internal void ResetBacklogAt(long offset)
    {
        DisconnectReplicas("replication backlog reset");
        if (Buffer.HasBacklog) Buffer.FreeBacklog();
        Buffer.CreateBacklog(offset);
    }

    /// <summary>Drops every replica (disconnectSlaves).</summary>
    internal void DisconnectReplicas(string why)
    {
        foreach (var r in Replicas.ToArray()) DropReplica(r, why, log: false);
    }

    internal void DropReplica(ReplicaPeer r, string why, bool log = true)
    {
        if (log) _server.Log.LogWarning("Disconnecting replica {Ip}:{Port}: {Why}", r.Ip, r.ListeningPort, why);
        ReleaseReplica(r);
        r.Client.Close(why);
    }

    private void ReleaseReplica(ReplicaPeer r)
    {
        if (r.Closed) return;
        r.Closed = true;
        Buffer.Detach(r.Cursor);
        if (Replicas.Remove(r) && Replicas.Count == 0) _noReplicasSinceMs = KvServer.UnixMs();
        r.Wake();
    }

    // ---------------------------------------------------------------- the stream

    private void EncAppend(ReadOnlySpan<byte> data)
    {
        if (_encLen + data.Length > _enc.Length) Array.Resize(ref _enc, Math.Max(_enc.Length * 2, _encLen + data.Length));
        data.CopyTo(_enc.AsSpan(_encLen));
        _encLen += data.Length;
    }

    private void EncLine(byte prefix, long n)
    {
        Span<byte> tmp = stackalloc byte[24];
        tmp[0] = prefix;
        n.TryFormat(tmp[1..], out int w, default, CultureInfo.InvariantCulture);
        tmp[1 + w] = (byte)'\r';
        tmp[2 + w] = (byte)'\n';
        EncAppend(tmp[..(3 + w)]);
    }

    private void EncCommand(IReadOnlyList<byte[]> argv)
    {
        EncLine((byte)'*', argv.Count);
        foreach (var a in argv)
        {
            EncLine((byte)'$', a.Length);
            EncAppend(a);
            EncAppend("\r\n"u8);
        }
    }

    private void EncSelect(int db)
    {
        if (db == _slaveSelDb) return;
        var d = Encoding.ASCII.GetBytes(db.ToString(CultureInfo.InvariantCulture));
        EncLine((byte)'*', 2);
        EncAppend("$6\r\nSELECT\r\n"u8);
        EncLine((byte)'$', d.Length);
        EncAppend(d);
        EncAppend("\r\n"u8);
        _slaveSelDb = db;
    }

    /// <inheritdoc/>
    public bool Active => Link is null && Buffer.HasBacklog;

    /// <inheritdoc/>
    public void PropagateRequest(int db, Kv.Resp.Request req)
    {
        if (Link is not null || !Buffer.HasBacklog) return;
        _encLen = 0;
        EncSelect(db);
        EncLine((byte)'*', req.Count);
        for (int i = 0; i < req.Count; i++)
        {
            var a = req[i];
            EncLine((byte)'$', a.Length);
            EncAppend(a);
            EncAppend("\r\n"u8);
        }
        FeedStream(_enc.AsSpan(0, _encLen));
    }

    /// <inheritdoc/>
    public void Propagate(IReadOnlyList<(int Db, IReadOnlyList<byte[]> Argv)> ops)
    {
        if (Link is not null || !Buffer.HasBacklog || ops.Count == 0) return;
        _encLen = 0;
        if (ops.Count > 1)
        {
            EncSelect(ops[0].Db);
            EncAppend("*1\r\n$5\r\nMULTI\r\n"u8);
        }
        foreach (var (db, argv) in ops)
        {
            EncSelect(db);
            EncCommand(argv);
        }
        if (ops.Count > 1) EncAppend("*1\r\n$4\r\nEXEC\r\n"u8);
        FeedStream(_enc.AsSpan(0, _encLen));
    }

    private readonly List<ReplicaPeer> _flushPending = [];
    private int _flushPendingBytes;
    private long _lastFlushTicks;
    private Timer? _flushTimer;
    private bool _flushTimerArmed;

    /// <summary>Stream bytes after which a client batch flushes to the replicas at once (16 KiB).</summary>
    internal const int FlushBytes = 16 * 1024;

    /// <summary>Time after the last flush at which a client batch flushes to the replicas at once (200 us).</summary>
    internal static readonly long FlushIntervalTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    /// <summary>
    /// End of a client batch (KvServer.AfterClientBatch, caller holds the lock): sends what the batches appended to
    /// the stream to each replica from this thread when its sender is idle (redis writes to replicas once per event
    /// loop iteration, in beforeSleep's handleClientsWithPendingWrites), else wakes the sender. Clients on the event
    /// loop (EpollLoop) flush once per iteration (endOfIteration). Clients run as tasks on the .NET socket engine,
    /// which has no end-of-iteration hook, flush once 16 KiB are pending or 200 us after the previous one;
    /// what is left is flushed by a 1 ms timer. Under load that is one send per several client batches (one send per
    /// batch cost ~20% of the master's CPU per SET); at rest, the first write goes out at once.
    /// </summary>
    private void FlushPendingReplicas(bool endOfIteration)
    {
        if (_flushPending.Count == 0) return;
        long now = KvClock.Ticks();
        if (!endOfIteration && _flushPendingBytes < FlushBytes && now - _lastFlushTicks < FlushIntervalTicks)
        {
            ArmFlushTimer();
            return;
        }
        FlushNow(now);
    }

    private void ArmFlushTimer()
    {
        if (_flushTimerArmed) return;
        _flushTimerArmed = true;
        _flushTimer ??= new Timer(_ => { lock (_server.ExecLock) { _flushTimerArmed = false; FlushNow(KvClock.Ticks()); } });
        _flushTimer.Change(1, Timeout.Infinite);
    }

    private readonly List<ReplicaPeer> _flushRetry = [];

    private void FlushNow(long now)
    {
        _lastFlushTicks = now;
        _flushPendingBytes = 0;
        if (_flushPending.Count == 0) return;
        foreach (var r in _flushPending)
        {
            r.FlushPending = false;
            if (r.SendInline(this)) _flushRetry.Add(r);
        }
        _flushPending.Clear();
        if (_flushRetry.Count == 0) return;
        // Socket buffers full: the next iteration's flush retries, and the timer if no iteration comes.
        foreach (var r in _flushRetry)
        {
            r.FlushPending = true;
            _flushPending.Add(r);
        }
        _flushRetry.Clear();
        ArmFlushTimer();
    }

    /// <summary>
    /// Appends bytes to the stream (also used by the replica to proxy its master). During a client batch the replicas
    /// are queued for <see cref="FlushPendingReplicas"/>; otherwise their senders are woken.
    /// </summary>
    internal void FeedStream(ReadOnlySpan<byte> data)
    {
        if (!Buffer.HasBacklog) return;
        bool added = Buffer.Feed(data);
        bool inBatch = _server.InClientBatch;
        if (inBatch) _flushPendingBytes += data.Length;
        foreach (var r in Replicas)
        {
            if (!r.StreamEnabled) continue;
            if (!inBatch) r.Wake();
            else if (!r.FlushPending)
            {
                r.FlushPending = true;
                _flushPending.Add(r);
            }
        }
        if (added) CheckOutputLimits(KvServer.UnixMs(), hardOnly: true);
    }

    // ---------------------------------------------------------------- IReplicationControl

    /// <inheritdoc/>
    public string? CheckWriteAllowed(ClientSession client)
    {
        if (Link is not null)
            return _server.Config.GetBool("replica-read-only") ? Errors.ReadOnly : null;
        // Every write on a master passes here: the two parameters are kept, not looked up by name.
        _minReplicasToWrite ??= _server.Config.Param("min-replicas-to-write");
        _minReplicasMaxLag ??= _server.Config.Param("min-replicas-max-lag");
        long min = _minReplicasToWrite.Number;
        long lag = _minReplicasMaxLag.Number;
        if (min > 0 && lag > 0 && GoodReplicas() < min) return Errors.NoReplicas;
        return null;
    }

    private ConfigParam? _minReplicasToWrite, _minReplicasMaxLag;

    /// <inheritdoc/>
    public bool IsStale() => Link is not null && !Link.IsConnected && !_server.Config.GetBool("replica-serve-stale-data");

    /// <summary>Replicas online with an ACK at most min-replicas-max-lag seconds old (refreshGoodSlavesCount).</summary>
    public int GoodReplicas()
    {
        long lag = _server.Config.GetLong("min-replicas-max-lag");
        long nowS = KvServer.UnixMs() / 1000;
        int good = 0;
        foreach (var r in Replicas)
            if (r.State == ReplicaSyncState.Online && nowS - r.AckTimeMs / 1000 <= lag) good++;
        return good;
    }

    // ---------------------------------------------------------------- cron

    /// <inheritdoc/>
    public void Cron(long nowMs)
    {
        CheckWaitTimeouts(nowMs);
        UpdateFailoverStatus(nowMs);
        // No GETACK while writes are paused: it would move the offset the failover waits for.
        if (_getAckPending && !_server.WritesPaused) SendGetAck();
        if (nowMs / 1000 == _lastSecond) return;
        _lastSecond = nowMs / 1000;
        _cronLoops++;
        Link?.Cron(nowMs);
        MasterCron(nowMs);
    }

    private void MasterCron(long nowMs)
    {
        var cfg = _server.Config;
        // PING the replicas every repl-ping-replica-period seconds, through the buffer (counted in the offset).
        long period = Math.Max(1, cfg.GetLong("repl-ping-replica-period"));
        // 7.0 skips it during a FAILOVER with a TIMEOUT (manual_failover_in_progress), so the target can catch up.
        bool failoverPause = _foState != FailoverState.None && _foEndMs != 0;
        if (Link is null && Replicas.Count > 0 && _cronLoops % period == 0 && !failoverPause) FeedStream(PingCmd);
        // Keepalive newlines to replicas waiting for a snapshot (and disk-mode ones while it is written).
        foreach (var r in Replicas)
        {
            if (r.State == ReplicaSyncState.WaitBgsaveStart || (r.State == ReplicaSyncState.WaitBgsaveEnd && !r.EofFraming))
                r.Enqueue("\n"u8.ToArray());
        }
        // Timeouts of streaming replicas.
        long timeoutMs = cfg.GetLong("repl-timeout") * 1000;
        foreach (var r in Replicas.ToArray())
        {
            if (r.State == ReplicaSyncState.Online && !r.PrePsync && nowMs - r.AckTimeMs > timeoutMs)
                DropReplica(r, "Disconnecting timedout replica (streaming sync)");
        }
        CheckOutputLimits(nowMs, hardOnly: false);
        // Backlog TTL: a master without replicas frees its backlog and changes replid.
        long ttl = cfg.GetLong("repl-backlog-ttl");
        if (Link is null && Replicas.Count == 0 && ttl > 0 && Buffer.HasBacklog && nowMs - _noReplicasSinceMs > ttl * 1000)
        {
            ChangeReplId();
            ClearReplId2();
            Buffer.FreeBacklog();
            _server.Log.LogInformation("Replication backlog freed after {Ttl} seconds without connected replicas.", ttl);
        }
        MaybeStartSnapshot(nowMs);
    }

    /// <summary>
    /// client-output-buffer-limit replica: the hard limit (at least repl-backlog-size) drops at once; the soft
    /// limit must hold for soft-seconds (checkClientOutputBufferLimits with 7.0's replica accounting).
    /// </summary>
    private void CheckOutputLimits(long nowMs, bool hardOnly)
    {
        if (Replicas.Count == 0) return;
        var (hard, soft, softSecs) = ReplicaCobLimits();
        if (hard > 0) hard = Math.Max(hard, Buffer.BacklogSize);
        foreach (var r in Replicas.ToArray())
        {
            if (r.Cursor.Block is null) continue;
            long used = Buffer.CobUsage(r.Cursor);
            if (hard > 0 && used >= hard)
            {
                _server.Log.LogWarning("Client id={Id} addr={Ip}:{Port} flags=S scheduled to be closed ASAP for overcoming of output buffer limits (replica hard limit {Hard}, used {Used}).",
                    r.Client.Id, r.Ip, r.ListeningPort, hard, used);
                DropReplica(r, "output buffer limit", log: false);
                continue;
            }
            if (soft > 0 && used >= soft)
            {
                if (r.SoftLimitSinceMs == 0) r.SoftLimitSinceMs = nowMs;
                else if (!hardOnly && nowMs - r.SoftLimitSinceMs > softSecs * 1000)
                {
                    _server.Log.LogWarning("Client id={Id} addr={Ip}:{Port} flags=S scheduled to be closed ASAP for overcoming of output buffer limits (replica soft limit {Soft} for {Secs} s, used {Used}).",
                        r.Client.Id, r.Ip, r.ListeningPort, soft, softSecs, used);
                    DropReplica(r, "output buffer limit", log: false);
                }
            }
            else r.SoftLimitSinceMs = 0;
        }
    }

    private (long Hard, long Soft, long SoftSecs) ReplicaCobLimits()
    {
        var words = _server.Config.Get("client-output-buffer-limit").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i + 3 < words.Length; i += 4)
        {
            if (words[i] is "slave" or "replica")
            {
                KvConfig.TryParseMemory(words[i + 1], out var h);
                KvConfig.TryParseMemory(words[i + 2], out var s);
                long.TryParse(words[i + 3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var secs);
                return (h, s, secs);
            }
        }
        return (256L << 20, 64L << 20, 60);
    }

    // ---------------------------------------------------------------- INFO

    private static string StateName(ReplicaSyncState s) => s switch
    {
        ReplicaSyncState.WaitBgsaveStart or ReplicaSyncState.WaitBgsaveEnd => "wait_bgsave",
        ReplicaSyncState.SendBulk => "send_bulk",
        ReplicaSyncState.Online => "online",
        _ => "none",
    };

    private void InfoReplication(StringBuilder sb)
    {
        long nowMs = KvServer.UnixMs();
        if (Link is null) sb.Append("role:master\r\n");
        else Link.AppendInfo(sb, nowMs);
        var listed = Replicas.Where(r => r.State != ReplicaSyncState.None).ToList();
        sb.Append("connected_slaves:").Append(listed.Count).Append("\r\n");
        long min = _server.Config.GetLong("min-replicas-to-write");
        long maxLag = _server.Config.GetLong("min-replicas-max-lag");
        if (min > 0 && maxLag > 0) sb.Append("min_slaves_good_slaves:").Append(GoodReplicas()).Append("\r\n");
        int i = 0;
        foreach (var r in listed)
        {
            long lag = r.State == ReplicaSyncState.Online ? nowMs / 1000 - r.AckTimeMs / 1000 : 0;
            sb.Append("slave").Append(i++).Append(":ip=").Append(r.Ip).Append(",port=").Append(r.ListeningPort)
              .Append(",state=").Append(StateName(r.State)).Append(",offset=").Append(r.AckOffset)
              .Append(",lag=").Append(lag).Append("\r\n");
        }
        sb.Append("master_failover_state:").Append(FailoverStateName).Append("\r\n")
          .Append("master_replid:").Append(ReplId).Append("\r\n")
          .Append("master_replid2:").Append(ReplId2).Append("\r\n")
          .Append("master_repl_offset:").Append(Buffer.MasterReplOffset).Append("\r\n")
          .Append("second_repl_offset:").Append(SecondReplIdOffset).Append("\r\n")
          .Append("repl_backlog_active:").Append(Buffer.HasBacklog ? 1 : 0).Append("\r\n")
          .Append("repl_backlog_size:").Append(Buffer.BacklogSize).Append("\r\n")
          .Append("repl_backlog_first_byte_offset:").Append(Buffer.FirstByteOffset).Append("\r\n")
          .Append("repl_backlog_histlen:").Append(Buffer.Histlen).Append("\r\n");
    }

    private void InfoMemory(StringBuilder sb)
    {
        long total = Buffer.Memory;
        long backlog, replicas;
        if (Replicas.Count > 0 && total > Buffer.BacklogSize)
        {
            backlog = Buffer.BacklogSize;
            replicas = total - backlog;
        }
        else
        {
            backlog = total;
            replicas = 0;
        }
        backlog += Buffer.IndexCount * 16L;
        sb.Append("mem_replication_backlog:").Append(backlog).Append("\r\n")
          .Append("mem_total_replication_buffers:").Append(total).Append("\r\n")
          .Append("mem_clients_slaves:").Append(replicas).Append("\r\n");
    }

    /// <summary>Writes the ROLE reply.</summary>
    internal void Role(CommandContext ctx)
    {
        var r = ctx.Reply;
        if (Link is not null)
        {
            Link.AppendRole(r);
            return;
        }
        r.ArrayHeader(3);
        r.Bulk("master"u8);
        r.Integer(Buffer.MasterReplOffset);
        var online = Replicas.Where(x => x.State == ReplicaSyncState.Online).ToList();
        r.ArrayHeader(online.Count);
        foreach (var x in online)
        {
            r.ArrayHeader(3);
            r.Bulk(x.Ip);
            r.Bulk(x.ListeningPort.ToString(CultureInfo.InvariantCulture));
            r.Bulk(x.AckOffset.ToString(CultureInfo.InvariantCulture));
        }
    }
}
