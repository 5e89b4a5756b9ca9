using Kv.Server;

namespace Kv.Server.Host;

/// <summary>
/// Wires the optional components into a server before it starts: persistence (RDB load at start, save points,
/// SAVE/BGSAVE/SHUTDOWN) and replication. This is the single place that decides which components run; each one
/// registers its commands, INFO sections and cron work through <see cref="KvServer.AddExtension"/>.
/// </summary>
public static class KvHost
{
    /// <summary>Attaches every component. Throws when a component cannot start (e.g. the dump file is corrupt).</summary>
    public static void Configure(KvServer server)
    {
        // Components are added here as they land: persistence first (it loads the dataset), then replication.
        _ = server;
        server.AddExtension(new Kv.Persistence.Persistence());
        server.AddExtension(new Kv.Replication.ReplicationManager(new Kv.Replication.RdbReplicationAdapter(server)));
    }
}
