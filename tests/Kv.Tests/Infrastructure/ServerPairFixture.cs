namespace Kv.Tests.Infrastructure;

/// <summary>
/// xunit class fixture running one redis-server 7.0.15 and one kv-server side by side (free loopback ports,
/// temp folders, logs captured, killed on dispose). Subclass and override <see cref="ExtraArgs"/> to start both
/// with extra options, e.g. <c>--requirepass</c> (then also set <see cref="Password"/> so helpers can AUTH).
/// </summary>
public class ServerPairFixture : IAsyncLifetime
{
    /// <summary>The real redis-server.</summary>
    public ServerProcess Redis { get; private set; } = null!;

    /// <summary>kv-server under test.</summary>
    public ServerProcess Kv { get; private set; } = null!;

    /// <summary>Extra <c>--name value</c> arguments given to both servers.</summary>
    protected virtual string[] ExtraArgs => [];

    /// <summary>The requirepass the servers were started with, if any (used by FLUSHALL in the runner).</summary>
    public virtual string? Password => null;

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        var r = ServerProcess.StartRedisAsync(ExtraArgs);
        var k = ServerProcess.StartKvAsync(ExtraArgs);
        try
        {
            Redis = await r.ConfigureAwait(false);
        }
        finally
        {
            // Make sure kv is owned even if redis failed.
            try { Kv = await k.ConfigureAwait(false); } catch when (Redis is null) { }
        }
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (Redis is not null) await Redis.DisposeAsync().ConfigureAwait(false);
        if (Kv is not null) await Kv.DisposeAsync().ConfigureAwait(false);
    }
}
