namespace Kv.Server;

public sealed partial class KvServer
{
    /// <summary>
    /// Disk-error gate of processCommand (writeCommandsDeniedByDiskError): returns the error text to reject write
    /// commands and PING from normal clients with ("MISCONF ..."), or null when writes are allowed. Set by the
    /// persistence component: non-null after a failed BGSAVE while stop-writes-on-bgsave-error is yes and save points
    /// are configured, until a save succeeds. The master link is never rejected.
    /// </summary>
    public Func<string?>? DiskErrorCheck { get; set; }
}
