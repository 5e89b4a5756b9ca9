namespace Adb.Daemon.Tests.Infrastructure;

/// <summary>
/// Shared world for the interop tests that need no special auth setup: Debian's adb server connected to our adbd with
/// the host key authorized (default capabilities). When the tests run as root, adbd serves as root (--user root) so
/// the temp folders are writable; the unprivileged default is covered by <c>CapabilityTests</c>.
/// </summary>
public sealed class ConnectedDaemonFixture : IAsyncLifetime
{
    public AdbTestEnv Env { get; } = new();

    public async Task InitializeAsync()
    {
        Env.AuthorizeHostKey();
        await Env.StartDaemonAsync(Native.Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await Env.ConnectAsync();
    }

    public async Task DisposeAsync() => await Env.DisposeAsync();
}

[CollectionDefinition("connected")]
public sealed class ConnectedCollection : ICollectionFixture<ConnectedDaemonFixture>;
