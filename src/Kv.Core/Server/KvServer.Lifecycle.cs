using Microsoft.Extensions.Logging;

namespace Kv.Server;

public sealed partial class KvServer
{
    /// <summary>
    /// Hook run before shutting down (SHUTDOWN command, SIGTERM): returns an error text to refuse (e.g. the
    /// final save failed) or null. Set by persistence. Argument: save mode (null = default, true = SAVE, false = NOSAVE).
    /// </summary>
    public Func<bool?, string?>? PrepareShutdown { get; set; }

    /// <summary>Requests a shutdown from a signal: runs the shutdown hook, then completes <see cref="ShutdownRequested"/>.</summary>
    public void RequestShutdown(string reason)
    {
        Log.LogWarning("Received {Reason} scheduling shutdown...", reason);
        lock (ExecLock)
        {
            var err = PrepareShutdown?.Invoke(null);
            if (err is not null)
            {
                Log.LogWarning("Error trying to shutdown the Redis server, check the logs for more information: {Error}", err);
                return;
            }
        }
        ShutdownRequested.TrySetResult();
    }
}
