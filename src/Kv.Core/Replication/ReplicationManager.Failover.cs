using Kv.Commands;
using Kv.Resp;
using Kv.Server;
using Microsoft.Extensions.Logging;

namespace Kv.Replication;

/// <summary>Coordinated failover state (server.failover_state in redis 7.0.15).</summary>
public enum FailoverState
{
    /// <summary>No failover (INFO "no-failover").</summary>
    None,
    /// <summary>Writes paused, waiting for a replica's ACK to reach master_repl_offset (INFO "waiting-for-sync").</summary>
    WaitForSync,
    /// <summary>Demoted to a replica of the target, PSYNC ... FAILOVER not answered yet (INFO "failover-in-progress").</summary>
    InProgress,
}

/// <summary>
/// FAILOVER (replication.c failoverCommand, updateFailoverStatus, abortFailover, clearFailoverState) and the
/// client write pause it relies on (networking.c pauseClients with CLIENT_PAUSE_WRITE, server.c processCommand's
/// BLOCKED_POSTPONE): while a failover runs, commands that may replicate (write or may_replicate flags, or an EXEC
/// whose queue holds one) from clients other than replicas are parked and re-processed from scratch when the pause
/// ends, so after a successful handover they get -READONLY and after an abort they run. Reads are served.
/// </summary>
public sealed partial class ReplicationManager
{
    private FailoverState _foState;
    private string? _foHost;
    private int _foPort;
    private long _foEndMs;
    private bool _foForce;
    private readonly List<ClientSession> _postponed = [];

    /// <summary>Current failover state.</summary>
    public FailoverState FailoverStatus => _foState;

    private string FailoverStateName => _foState switch
    {
        FailoverState.WaitForSync => "waiting-for-sync",
        FailoverState.InProgress => "failover-in-progress",
        _ => "no-failover",
    };

    /// <summary>
    /// FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | FAILOVER ABORT, with 7.0.15's argument order and errors:
    /// ABORT alone ("No failover in progress." when idle); TIMEOUT must be &gt; 0; FORCE needs TO and TIMEOUT; the
    /// target must be a replica (matched by its announced or peer ip and listening port, case-insensitive host) and
    /// online. Replies +OK and pauses writes (state waiting-for-sync).
    /// </summary>
    internal void Failover(CommandContext ctx)
    {
        if (ctx.Argc == 2 && ctx.ArgIs(1, "abort"))
        {
            if (_foState == FailoverState.None)
            {
                ctx.Error("ERR No failover in progress.");
                return;
            }
            AbortFailover("Failover manually aborted");
            ctx.Reply.Ok();
            return;
        }
        long timeout = 0, port = 0;
        bool force = false;
        string? host = null;
        for (int j = 1; j < ctx.Argc; j++)
        {
            if (ctx.ArgIs(j, "timeout") && j + 1 < ctx.Argc && timeout == 0)
            {
                if (!ctx.TryGetLong(j + 1, out timeout)) return;
                if (timeout <= 0)
                {
                    ctx.Error("ERR FAILOVER timeout must be greater than 0");
                    return;
                }
                j++;
            }
            else if (ctx.ArgIs(j, "to") && j + 2 < ctx.Argc && host is null)
            {
                if (!ctx.TryGetLong(j + 2, out port)) return;
                host = ctx.ArgString(j + 1);
                j += 2;
            }
            else if (ctx.ArgIs(j, "force") && !force) force = true;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (_foState != FailoverState.None)
        {
            ctx.Error("ERR FAILOVER already in progress.");
            return;
        }
        if (Link is not null)
        {
            ctx.Error("ERR FAILOVER is not valid when server is a replica.");
            return;
        }
        if (Replicas.Count == 0)
        {
            ctx.Error("ERR FAILOVER requires connected replicas.");
            return;
        }
        if (force && (timeout == 0 || host is null))
        {
            ctx.Error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
            return;
        }
        if (host is not null)
        {
            var target = FindReplica(host, port);
            if (target is null)
            {
                ctx.Error("ERR FAILOVER target HOST and PORT is not a replica.");
                return;
            }
            if (target.State != ReplicaSyncState.Online)
            {
                ctx.Error("ERR FAILOVER target replica is not online.");
                return;
            }
            _foHost = host;
            _foPort = (int)port;
            _server.Log.LogInformation("FAILOVER requested to {Host}:{Port}.", host, port);
        }
        else _server.Log.LogInformation("FAILOVER requested to any replica.");
        _foEndMs = timeout > 0 ? KvServer.UnixMs() + timeout : 0;
        _foForce = force;
        _foState = FailoverState.WaitForSync;
        _server.WritesPaused = true;
        ctx.Reply.Ok();
    }

    /// <summary>findReplica: a replica whose announced ip (else peer ip) equals <paramref name="host"/> ignoring case, at <paramref name="port"/>.</summary>
    private ReplicaPeer? FindReplica(string host, long port)
    {
        foreach (var r in Replicas)
            if (string.Equals(r.Ip, host, StringComparison.OrdinalIgnoreCase) && r.ListeningPort == port) return r;
        return null;
    }

    /// <summary>
    /// updateFailoverStatus, run from the cron (every tick): on timeout either force the handover (FORCE) or abort
    /// ("Replica never caught up before timeout"); otherwise hand over as soon as the target (or, without TO, any
    /// replica) has acknowledged exactly master_repl_offset: become its replica and PSYNC it with FAILOVER.
    /// </summary>
    private void UpdateFailoverStatus(long nowMs)
    {
        if (_foState != FailoverState.WaitForSync) return;
        if (_foEndMs != 0 && _foEndMs <= nowMs)
        {
            if (_foForce)
            {
                _server.Log.LogInformation("FAILOVER to {Host}:{Port} time out exceeded, failing over.", _foHost, _foPort);
                _foState = FailoverState.InProgress;
                SetMaster(_foHost!, _foPort);
            }
            else AbortFailover("Replica never caught up before timeout");
            return;
        }
        ReplicaPeer? replica = null;
        if (_foHost is not null) replica = FindReplica(_foHost, _foPort);
        else
        {
            foreach (var r in Replicas)
            {
                if (r.AckOffset != Buffer.MasterReplOffset) continue;
                replica = r;
                _foHost = r.Ip;
                _foPort = r.ListeningPort;
                break;
            }
        }
        if (replica is not null && replica.AckOffset == Buffer.MasterReplOffset)
        {
            _foState = FailoverState.InProgress;
            _server.Log.LogInformation("Failover target {Host}:{Port} is synced, failing over.", _foHost, _foPort);
            SetMaster(_foHost!, _foPort);
        }
    }

    /// <summary>clearFailoverState: back to no-failover and unpause (postponed clients are re-processed).</summary>
    private void ClearFailoverState()
    {
        _foEndMs = 0;
        _foForce = false;
        _foHost = null;
        _foPort = 0;
        _foState = FailoverState.None;
        UnpauseWrites();
    }

    /// <summary>
    /// abortFailover: logs why; if we already turned into the target's replica, turn back into a master
    /// (replicationUnsetMaster: new replid, the old one as replid2); then clear the state and unpause.
    /// </summary>
    internal void AbortFailover(string why)
    {
        if (_foState == FailoverState.None) return;
        if (_foHost is not null) _server.Log.LogInformation("FAILOVER to {Host}:{Port} aborted: {Why}", _foHost, _foPort, why);
        else _server.Log.LogInformation("FAILOVER to any replica aborted: {Why}", why);
        if (_foState == FailoverState.InProgress) Promote();
        ClearFailoverState();
    }

    /// <summary>
    /// Called by the replica link with the target's answer to PSYNC ... FAILOVER (syncWithMaster): +CONTINUE or
    /// +FULLRESYNC completes the failover; anything else (an error, -NOMASTERLINK, a write error) aborts it.
    /// Caller holds the lock.
    /// </summary>
    internal void FailoverPsyncResult(bool accepted, string why)
    {
        if (_foState != FailoverState.InProgress) return;
        if (accepted) ClearFailoverState();
        else AbortFailover(why);
    }

    /// <summary>True while the next PSYNC must carry the FAILOVER argument.</summary>
    internal bool FailoverInProgress => _foState == FailoverState.InProgress;

    /// <inheritdoc/>
    public bool PostponeIfPaused(ClientSession client, CommandDef cmd, Request req)
    {
        if (!_server.WritesPaused || client.IsReplica || client.IsMaster) return false;
        const CommandFlags mayReplicate = CommandFlags.Write | CommandFlags.MayReplicate;
        bool may = (cmd.Flags & mayReplicate) != 0;
        if (!may && cmd.Name == "exec" && cmd.Parent is null && client.MultiQueue is { } q)
            foreach (var (qc, _) in q)
                if ((qc.Flags & mayReplicate) != 0) { may = true; break; }
        if (!may) return false;
        // blockClient(c, BLOCKED_POSTPONE): parked with no keys and no timeout; the request is re-processed later.
        var ctx = client.Context;
        ctx.Command = cmd;
        ctx.Args = req;
        _server.Blocking.Block(ctx, [], 0);
        _postponed.Add(client);
        return true;
    }

    /// <summary>unpauseClients + unblockPostponedClients: re-processes each parked request in arrival order.</summary>
    private void UnpauseWrites()
    {
        _server.WritesPaused = false;
        if (_postponed.Count == 0) return;
        var list = _postponed.ToArray();
        _postponed.Clear();
        foreach (var c in list)
        {
            if (c.IsClosed || c.BlockedState is not { } st) continue;
            _server.Blocking.Unblock(c, timedOut: false, silent: true);
            Dispatcher.ProcessCommand(c, st.Argv);
            c.ScheduleFlush();
        }
    }

    /// <summary>
    /// disconnectAllBlockedClients (replicationSetMaster): clients blocked on keys or in WAIT get
    /// "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)" (redis also
    /// closes them after the reply; we keep the connection); postponed (paused) clients are kept, they are
    /// re-processed when the pause ends.
    /// </summary>
    private void DisconnectBlockedClients()
    {
        _waiters.Clear();
        foreach (var c in _server.Clients.Values.ToArray())
        {
            if (c.BlockedState is null || c.IsClosed || _postponed.Contains(c)) continue;
            _server.Blocking.Unblock(c, timedOut: false, silent: true);
            c.Out.Error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
            c.ScheduleFlush();
        }
    }
}
