using System.Globalization;
using System.Text;
using Kv.Commands;
using Kv.Server;
using Microsoft.Extensions.Logging;

namespace Kv.Replication;

public sealed partial class ReplicationManager
{
    private sealed class SnapshotJob
    {
        public required long Offset;
        public required bool Eof;
        public required List<ReplicaPeer> Peers;
        public SnapshotFeed? Feed;
    }

    private sealed class WaitEntry
    {
        public required ClientSession Client;
        public required long Offset;
        public required long NumReplicas;
        public required long DeadlineMs;
    }

    private static ReplicaPeer PeerOf(ClientSession c)
    {
        if (c.ReplicationState is ReplicaPeer p) return p;
        p = new ReplicaPeer(c);
        c.ReplicationState = p;
        return p;
    }

    /// <summary>REPLCONF option value ... (replconfCommand). Handshake options answer +OK; ACK and GETACK answer nothing.</summary>
    internal void ReplConf(CommandContext ctx)
    {
        var c = ctx.Client;
        if ((ctx.Argc % 2) == 0)
        {
            ctx.SyntaxError();
            return;
        }
        for (int i = 1; i < ctx.Argc; i += 2)
        {
            if (ctx.ArgIs(i, "listening-port"))
            {
                if (!long.TryParse(ctx.ArgString(i + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var port))
                {
                    ctx.Error(Errors.NotInteger);
                    return;
                }
                PeerOf(c).ListeningPort = (int)port;
            }
            else if (ctx.ArgIs(i, "ip-address"))
            {
                var ip = ctx.ArgString(i + 1);
                if (ip.Length >= 46)
                {
                    ctx.Error("ERR REPLCONF ip-address provided by replica instance is too long: " + ip.Length + " bytes");
                    return;
                }
                PeerOf(c).AnnouncedIp = ip;
            }
            else if (ctx.ArgIs(i, "capa"))
            {
                if (ctx.ArgIs(i + 1, "eof")) PeerOf(c).CapaEof = true;
                else if (ctx.ArgIs(i + 1, "psync2")) PeerOf(c).CapaPsync2 = true;
            }
            else if (ctx.ArgIs(i, "ack"))
            {
                // No reply, ever. Ignored from clients that are not replicas.
                if (c.ReplicationState is not ReplicaPeer p || p.State == ReplicaSyncState.None) return;
                if (!long.TryParse(ctx.ArgString(i + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var off)) return;
                if (off > p.AckOffset) p.AckOffset = off;
                p.AckTimeMs = KvServer.UnixMs();
                if (p.WaitingFirstAck)
                {
                    p.WaitingFirstAck = false;
                    p.StreamEnabled = true;
                    p.Wake();
                }
                if (_waiters.Count > 0) ProcessWaiters(KvServer.UnixMs());
                return;
            }
            else if (ctx.ArgIs(i, "getack"))
            {
                // Only our master may ask; the reply is forced through the suppressed master link.
                if (c.IsMaster && Link is not null)
                {
                    Link.WriteAck(c);
                    c.ForceReply();
                }
                return;
            }
            else if (ctx.ArgIs(i, "rdb-only"))
            {
                var v = ctx.ArgString(i + 1);
                if (v is not ("0" or "1"))
                {
                    ctx.Error("ERR value is not an integer or out of range");
                    return;
                }
                PeerOf(c).RdbOnly = v == "1";
            }
            else if (ctx.ArgIs(i, "rdb-filter-only"))
            {
                // Only "functions" (or nothing) is allowed; we have no functions, so the RDB is unaffected.
            }
            else
            {
                ctx.Error("ERR Unrecognized REPLCONF option: " + ctx.ArgString(i));
                return;
            }
        }
        ctx.Reply.Ok();
    }

    /// <summary>SYNC and PSYNC replid offset (syncCommand).</summary>
    internal void Sync(CommandContext ctx, bool psync)
    {
        var c = ctx.Client;
        if (c.IsReplica) return; // already a replica: ignore
        if (psync && ctx.Argc > 3 && ctx.ArgIs(3, "failover"))
        {
            // Coordinated failover: our master asks us to take over (7.0 syncCommand "PSYNC replid offset FAILOVER").
            _server.Log.LogWarning("Failover request received for replid {Id}.", ctx.ArgString(1));
            if (Link is null)
            {
                ctx.Error("ERR PSYNC FAILOVER can't be sent to a master.");
                return;
            }
            if (ctx.ArgString(1) != ReplId)
            {
                ctx.Error("ERR PSYNC FAILOVER replid must match my replid.");
                return;
            }
            Promote();
            _server.Log.LogInformation("MASTER MODE enabled (failover request from 'id={Id} addr={Addr}')", c.Id, c.Address);
        }
        if (_foState != FailoverState.None)
        {
            ctx.Error("NOMASTERLINK Can't SYNC while failing over");
            return;
        }
        if (Link is not null && !Link.IsConnected)
        {
            ctx.Error("NOMASTERLINK Can't SYNC while not connected with my master");
            return;
        }
        long psyncOffset = 0;
        if (psync && !long.TryParse(ctx.ArgString(2), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out psyncOffset))
        {
            ctx.Error(Errors.NotInteger);
            return;
        }
        var p = PeerOf(c);
        // Replies queued before this command (pipelined REPLCONF +OKs) go out first, through the sender.
        if (c.Out.Length > 0)
        {
            p.Enqueue(c.Out.Written.ToArray());
            c.Out.Clear();
        }
        _server.Log.LogInformation("Replica {Ip}:{Port} asks for synchronization", p.Ip, p.ListeningPort);
        if (psync)
        {
            var reqId = ctx.ArgString(1);
            if (TryPartialResync(ctx, p, reqId, psyncOffset))
            {
                _server.Stats.SyncPartialOk++;
                return;
            }
            if (reqId != "?") _server.Stats.SyncPartialErr++;
        }
        else p.PrePsync = true;

        _server.Stats.SyncFull++;
        c.IsReplica = true;
        c.SuppressReplies = true;
        p.State = ReplicaSyncState.WaitBgsaveStart;
        p.AckTimeMs = KvServer.UnixMs();
        p.EofFraming = p.CapaEof && (_server.Config.GetBool("repl-diskless-sync") || p.RdbOnly);
        Replicas.Add(p);
        c.OnClose = cl => { if (cl.ReplicationState is ReplicaPeer rp) ReleaseReplica(rp); };
        if (Replicas.Count == 1 && !Buffer.HasBacklog)
        {
            ChangeReplId();
            ClearReplId2();
            Buffer.CreateBacklog(Buffer.MasterReplOffset);
            _server.Log.LogInformation("Replication backlog created, my new replication IDs are '{Id}' and '{Id2}'", ReplId, ReplId2);
        }
        if (TryAttachToRunningSnapshot(p))
        {
            p.StartSender(this);
            return;
        }
        if (_waitBgsaveSinceMs == 0) _waitBgsaveSinceMs = KvServer.UnixMs();
        p.StartSender(this);
        MaybeStartSnapshot(KvServer.UnixMs());
    }

    /// <summary>
    /// syncCommand's "BGSAVE in progress" cases (7.0.15): while a disk-framed snapshot runs and some replica of it
    /// is still in WAIT_BGSAVE_END (not rdb-only, unless the newcomer is too), a newcomer whose capabilities include
    /// all of that replica's joins it: same +FULLRESYNC offset, its stream position copied (it receives every byte
    /// after the snapshot offset), disk framing ("Waiting for end of BGSAVE for SYNC"). Otherwise, and always while
    /// an EOF-framed (socket) snapshot runs, it waits for the next snapshot. Returns true when attached.
    /// </summary>
    private bool TryAttachToRunningSnapshot(ReplicaPeer p)
    {
        if (_job is not { } job) return false;
        if (job.Eof)
        {
            _server.Log.LogInformation("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
            return false;
        }
        var other = job.Peers.FirstOrDefault(r => !r.Closed && r.State == ReplicaSyncState.WaitBgsaveEnd && (!r.RdbOnly || p.RdbOnly));
        bool capaOk = other is not null && (!other.CapaEof || p.CapaEof) && (!other.CapaPsync2 || p.CapaPsync2);
        if (!capaOk || !Buffer.CanServe(job.Offset + 1))
        {
            _server.Log.LogInformation("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC");
            return false;
        }
        p.State = ReplicaSyncState.WaitBgsaveEnd;
        p.InitialOffset = job.Offset;
        p.EofFraming = false;
        Buffer.AttachAt(p.Cursor, job.Offset + 1);
        if (!p.PrePsync) p.Enqueue(Encoding.ASCII.GetBytes($"+FULLRESYNC {ReplId} {job.Offset}\r\n"));
        job.Peers.Add(p);
        _server.Log.LogInformation("Waiting for end of BGSAVE for SYNC");
        return true;
    }

    private bool TryPartialResync(CommandContext ctx, ReplicaPeer p, string reqId, long offset)
    {
        if (reqId != ReplId && !(reqId == ReplId2 && offset <= SecondReplIdOffset))
        {
            if (reqId != "?")
            {
                if (reqId != ReplId && reqId != ReplId2)
                    _server.Log.LogInformation("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{Req}', my replication IDs are '{Id}' and '{Id2}')", reqId, ReplId, ReplId2);
                else
                    _server.Log.LogInformation("Partial resynchronization not accepted: Requested offset for second ID was {Off}, but I can reply up to {Max}", offset, SecondReplIdOffset);
            }
            else _server.Log.LogInformation("Full resync requested by replica {Ip}:{Port}", p.Ip, p.ListeningPort);
            return false;
        }
        if (!Buffer.CanServe(offset))
        {
            _server.Log.LogInformation("Unable to partial resync with replica {Ip}:{Port} for lack of backlog (Replica request was: {Off}).", p.Ip, p.ListeningPort, offset);
            if (offset > Buffer.MasterReplOffset)
                _server.Log.LogWarning("Warning: replica {Ip}:{Port} tried to PSYNC with an offset that is greater than the master replication offset.", p.Ip, p.ListeningPort);
            return false;
        }
        var c = ctx.Client;
        c.IsReplica = true;
        c.SuppressReplies = true;
        p.State = ReplicaSyncState.Online;
        p.AckTimeMs = KvServer.UnixMs();
        p.StreamEnabled = true;
        Replicas.Add(p);
        c.OnClose = cl => { if (cl.ReplicationState is ReplicaPeer rp) ReleaseReplica(rp); };
        p.Enqueue(Encoding.ASCII.GetBytes(p.CapaPsync2 ? $"+CONTINUE {ReplId}\r\n" : "+CONTINUE\r\n"));
        Buffer.AttachAt(p.Cursor, offset);
        _server.Log.LogInformation("Partial resynchronization request from {Ip}:{Port} accepted. Sending {N} bytes of backlog starting from offset {Off}.",
            p.Ip, p.ListeningPort, Buffer.MasterReplOffset + 1 - offset, offset);
        p.StartSender(this);
        return true;
    }

    /// <summary>Starts a snapshot for every replica waiting for one (startBgsaveForReplication), honouring repl-diskless-sync-delay.</summary>
    private void MaybeStartSnapshot(long nowMs)
    {
        if (_job is not null) return;
        var waiting = Replicas.Where(r => r.State == ReplicaSyncState.WaitBgsaveStart).ToList();
        if (waiting.Count == 0)
        {
            _waitBgsaveSinceMs = 0;
            return;
        }
        bool anyEof = waiting.Any(r => r.EofFraming);
        if (anyEof)
        {
            long delay = _server.Config.GetLong("repl-diskless-sync-delay") * 1000;
            long maxReplicas = _server.Config.GetLong("repl-diskless-sync-max-replicas");
            bool enough = maxReplicas > 0 && waiting.Count >= maxReplicas;
            if (!enough && nowMs - _waitBgsaveSinceMs < delay) return;
        }
        // One job serves replicas of one framing; the others wait for the next job.
        var peers = waiting.Where(r => r.EofFraming == anyEof).ToList();
        _waitBgsaveSinceMs = 0;
        long offset = Buffer.MasterReplOffset;
        _slaveSelDb = -1; // the stream after a full sync always starts with SELECT
        var job = new SnapshotJob { Offset = offset, Eof = anyEof, Peers = peers };
        _job = job;
        foreach (var r in peers)
        {
            r.State = ReplicaSyncState.WaitBgsaveEnd;
            r.InitialOffset = offset;
            Buffer.AttachAtEnd(r.Cursor);
            if (!r.PrePsync) r.Enqueue(Encoding.ASCII.GetBytes($"+FULLRESYNC {ReplId} {offset}\r\n"));
        }
        _server.Log.LogInformation("Starting BGSAVE for SYNC with target: {Target} (replid {Id}, offset {Off})", anyEof ? "replicas sockets" : "disk", ReplId, offset);
        var feed = new SnapshotFeed();
        job.Feed = feed;
        if (anyEof)
        {
            // Diskless: stream the RDB to the replicas while the snapshot is being written.
            var mark = Encoding.ASCII.GetBytes(KvServer.RandomHex(40));
            foreach (var r in peers)
            {
                var peer = r;
                r.Enqueue(Encoding.ASCII.GetBytes("$EOF:" + Encoding.ASCII.GetString(mark) + "\r\n"));
                r.Feed = feed;
                r.FeedIndex = r.FeedPos = 0;
                r.FeedDone = () => peer.Enqueue(mark, () => BulkSent(peer, eof: true));
                r.Wake();
            }
        }
        Task t;
        try
        {
            t = Rdb.WriteSnapshotAsync(feed, new ReplRdbInfo(ReplId, offset, 0));
        }
        catch (Exception e)
        {
            t = Task.FromException(e);
        }
        t.ContinueWith(done =>
        {
            var err = done.Exception?.GetBaseException();
            feed.Complete(err);
            lock (_server.ExecLock) SnapshotDone(job, err, feed);
        }, TaskScheduler.Default);
    }

    private void SnapshotDone(SnapshotJob job, Exception? error, SnapshotFeed feed)
    {
        _job = null;
        if (error is not null)
        {
            _server.Log.LogWarning("Background RDB for replication failed: {Error}", error.Message);
            foreach (var r in job.Peers) if (!r.Closed) DropReplica(r, "snapshot failed");
            MaybeStartSnapshot(KvServer.UnixMs());
            return;
        }
        _server.Log.LogInformation("Background RDB for replication terminated with success ({Bytes} bytes)", feed.Length);
        foreach (var r in job.Peers)
        {
            if (r.Closed) continue;
            if (job.Eof) continue; // already streaming
            // Disk framing: the length is known now.
            var peer = r;
            r.State = ReplicaSyncState.SendBulk;
            r.Enqueue(Encoding.ASCII.GetBytes($"${feed.Length}\r\n"));
            r.Feed = feed;
            r.FeedIndex = r.FeedPos = 0;
            r.FeedDone = () => BulkSent(peer, eof: false);
            r.Wake();
        }
        MaybeStartSnapshot(KvServer.UnixMs());
    }

    private void BulkSent(ReplicaPeer r, bool eof)
    {
        if (r.RdbOnly)
        {
            _server.Log.LogInformation("Streamed RDB transfer with replica {Ip}:{Port} succeeded (socket). Closing the rdb-only client.", r.Ip, r.ListeningPort);
            DropReplica(r, "rdb-only transfer done", log: false);
            return;
        }
        r.State = ReplicaSyncState.Online;
        r.AckTimeMs = KvServer.UnixMs();
        if (eof && !r.PrePsync)
        {
            r.WaitingFirstAck = true;
            _server.Log.LogInformation("Streamed RDB transfer with replica {Ip}:{Port} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming", r.Ip, r.ListeningPort);
        }
        else
        {
            r.StreamEnabled = true;
            _server.Log.LogInformation("Synchronization with replica {Ip}:{Port} succeeded", r.Ip, r.ListeningPort);
        }
    }

    // ---------------------------------------------------------------- WAIT

    /// <summary>WAIT numreplicas timeout (waitCommand).</summary>
    internal void Wait(CommandContext ctx)
    {
        if (Link is not null)
        {
            ctx.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
            return;
        }
        if (!ctx.TryGetLong(1, out var num)) return;
        if (!long.TryParse(ctx.ArgString(2), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var timeout))
        {
            ctx.Error("ERR timeout is not an integer or out of range");
            return;
        }
        if (timeout < 0)
        {
            ctx.Error("ERR timeout is negative");
            return;
        }
        var c = ctx.Client;
        long woff = c.WriteOffset;
        int acked = AckedReplicas(woff);
        if (acked >= num || ctx.ServingBlocked || ctx.InExec)
        {
            ctx.Reply.Integer(acked);
            return;
        }
        ctx.BlockOnKeys([], 0);
        _waiters.Add(new WaitEntry { Client = c, Offset = woff, NumReplicas = num, DeadlineMs = timeout == 0 ? 0 : KvServer.UnixMs() + timeout });
        // One GETACK per burst of WAITs (7.0 sends it once per event-loop iteration from beforeSleep).
        if (KvServer.UnixMs() - _lastGetAckMs >= 10 && !_server.WritesPaused) SendGetAck();
        else _getAckPending = true;
    }

    private int AckedReplicas(long offset)
    {
        int n = 0;
        foreach (var r in Replicas)
            if (r.State == ReplicaSyncState.Online && r.AckOffset >= offset) n++;
        return n;
    }

    private long _lastGetAckMs;

    private void SendGetAck()
    {
        _getAckPending = false;
        _lastGetAckMs = KvServer.UnixMs();
        if (Link is null && Replicas.Count > 0) FeedStream(GetAckCmd);
    }

    private void ProcessWaiters(long nowMs)
    {
        for (int i = 0; i < _waiters.Count; i++)
        {
            var w = _waiters[i];
            bool gone = w.Client.IsClosed || w.Client.BlockedState is null;
            int acked = gone ? 0 : AckedReplicas(w.Offset);
            bool done = gone || acked >= w.NumReplicas || (w.DeadlineMs > 0 && nowMs >= w.DeadlineMs);
            if (!done) continue;
            _waiters.RemoveAt(i--);
            if (gone) continue;
            _server.Blocking.Unblock(w.Client, timedOut: false, silent: true);
            w.Client.Out.Integer(acked);
            w.Client.ScheduleFlush();
        }
    }

    private void CheckWaitTimeouts(long nowMs)
    {
        if (_waiters.Count > 0) ProcessWaiters(nowMs);
    }

    // ---------------------------------------------------------------- REPLICAOF

    /// <summary>REPLICAOF host port | NO ONE (replicaofCommand).</summary>
    internal void ReplicaOf(CommandContext ctx)
    {
        var c = ctx.Client;
        if (_foState != FailoverState.None)
        {
            ctx.Error("ERR REPLICAOF not allowed while failing over.");
            return;
        }
        if (ctx.ArgIs(1, "no") && ctx.ArgIs(2, "one"))
        {
            if (Link is not null)
            {
                Promote();
                _server.Log.LogWarning("MASTER MODE enabled (user request from 'id={Id} addr={Addr}')", c.Id, c.Address);
            }
            ctx.Reply.Ok();
            return;
        }
        if (c.IsReplica)
        {
            ctx.Error("ERR Command is not valid when client is a replica.");
            return;
        }
        if (!long.TryParse(ctx.ArgString(2), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var port) || port < 0 || port > 65535)
        {
            ctx.Error("ERR Invalid master port");
            return;
        }
        var host = ctx.ArgString(1);
        if (Link is not null && Link.Host.Equals(host, StringComparison.OrdinalIgnoreCase) && Link.Port == port)
        {
            _server.Log.LogInformation("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.Reply.Simple("OK Already connected to specified master");
            return;
        }
        SetMaster(host, (int)port);
        _server.Log.LogInformation("REPLICAOF {Host}:{Port} enabled (user request from 'id={Id} addr={Addr}')", host, port, c.Id, c.Address);
        ctx.Reply.Ok();
    }

    /// <summary>replicationSetMaster: become (or switch to being) a replica of host:port.</summary>
    internal void SetMaster(string host, int port, bool start = true)
    {
        bool wasMaster = Link is null;
        ReplicaLink.CachedMaster? cached = null;
        if (Link is not null)
        {
            cached = Link.Stop();
        }
        else
        {
            // replicationCacheMasterUsingMyself: our own history lets us PSYNC the new master.
            if (Buffer.HasBacklog) cached = new ReplicaLink.CachedMaster(ReplId, Buffer.MasterReplOffset, 0);
        }
        _ = wasMaster;
        DisconnectBlockedClients();
        _server.IsReplica = true;
        Link = new ReplicaLink(this, host, port, cached);
        if (start) Link.Start();
    }

    /// <summary>replicationUnsetMaster: promotion to master (new replid, the old one kept as replid2).</summary>
    internal void Promote()
    {
        if (Link is null) return;
        Link.Stop();
        Link = null;
        _server.IsReplica = false;
        ShiftReplId(KvServer.RandomHex(40));
        DisconnectReplicas("promotion: replicas must resync to learn the new replid");
        _slaveSelDb = -1;
        _noReplicasSinceMs = KvServer.UnixMs();
        if (!Buffer.HasBacklog) Buffer.CreateBacklog(Buffer.MasterReplOffset);
        _server.Log.LogInformation("Setting secondary replication ID to {Id2}, valid up to offset: {Off}. New replication ID is {Id}", ReplId2, SecondReplIdOffset, ReplId);
    }

    /// <summary>Called by the replica link after a successful full sync: adopt the master's id and offset.</summary>
    internal void AdoptMaster(string replId, long offset)
    {
        ReplId = replId;
        ClearReplId2();
        ResetBacklogAt(offset);
    }

    /// <summary>Called by the replica link after +CONTINUE with a different id (PSYNC2 id switch).</summary>
    internal void SwitchMasterId(string newId)
    {
        if (newId == ReplId) return;
        ShiftReplId(newId);
        DisconnectReplicas("master replid changed");
    }

    /// <summary>Writes the 1-second REPLCONF ACK text for <paramref name="offset"/>.</summary>
    internal static byte[] AckCommand(long offset)
    {
        var o = offset.ToString(CultureInfo.InvariantCulture);
        return Encoding.ASCII.GetBytes($"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${o.Length}\r\n{o}\r\n");
    }
}
