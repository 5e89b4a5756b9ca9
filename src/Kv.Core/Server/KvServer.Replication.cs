using Kv.Commands;
using Kv.Resp;

namespace Kv.Server;

/// <summary>
/// What the command pipeline needs from the replication component (implemented in Kv.Replication).
/// All members are called under the execution lock.
/// </summary>
public interface IReplicationControl
{
    /// <summary>
    /// Null when a write command from <paramref name="client"/> may run; otherwise the error text
    /// (READONLY on a read-only replica, NOREPLICAS when min-replicas-to-write is not met).
    /// </summary>
    string? CheckWriteAllowed(ClientSession client);

    /// <summary>True when we are a replica whose link is down and replica-serve-stale-data is no (MASTERDOWN).</summary>
    bool IsStale();

    /// <summary>master_repl_offset: global offset of the last byte fed to the replication stream.</summary>
    long MasterReplOffset { get; }

    /// <summary>
    /// Called by the dispatcher, only while <see cref="KvServer.WritesPaused"/> is set, just before a command would
    /// be queued or executed (processCommand's client-pause check). Returns true when the client was parked
    /// (blockClient BLOCKED_POSTPONE): the caller must then return without replying; the request is re-processed
    /// from scratch when the pause ends.
    /// </summary>
    bool PostponeIfPaused(ClientSession client, CommandDef cmd, Request req);
}

public sealed partial class KvServer
{
    /// <summary>The replication component, when attached.</summary>
    public IReplicationControl? Replication { get; set; }

    /// <summary>
    /// True while clients are paused for writes (pauseClients CLIENT_PAUSE_WRITE, set by FAILOVER): the dispatcher
    /// then offers every command to <see cref="IReplicationControl.PostponeIfPaused"/>.
    /// </summary>
    public bool WritesPaused { get; internal set; }
}
