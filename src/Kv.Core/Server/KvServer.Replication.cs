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
}

public sealed partial class KvServer
{
    /// <summary>The replication component, when attached.</summary>
    public IReplicationControl? Replication { get; set; }
}
