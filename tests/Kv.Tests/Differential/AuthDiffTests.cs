using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Both servers started with <c>--requirepass secret</c>.</summary>
public sealed class PasswordPairFixture : ServerPairFixture
{
    /// <inheritdoc/>
    protected override string[] ExtraArgs => ["--requirepass", "secret"];

    /// <inheritdoc/>
    public override string? Password => "secret";
}

/// <summary>AUTH, NOAUTH, HELLO AUTH with requirepass, compared with redis.</summary>
public class AuthDiffTests(PasswordPairFixture pair, ITestOutputHelper output) : IClassFixture<PasswordPairFixture>
{
    [Fact]
    public async Task RequirePass()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            PING
            GET k
            SET k v
            NOSUCHCOMMAND
            MULTI
            EXEC
            DISCARD
            SELECT 1
            CLIENT ID
            !type HELLO
            HELLO 2
            HELLO 3 AUTH default wrong
            HELLO 3 AUTH wronguser secret
            AUTH
            AUTH wrong
            AUTH default wrong
            AUTH nouser secret
            AUTH a b c
            GET k
            AUTH secret
            GET k
            SET k v
            AUTH secret
            AUTH default secret
            AUTH wrong
            GET k
            !reconnect
            GET k
            !type HELLO 2 AUTH default secret
            GET k
            !reconnect
            !type HELLO 3 AUTH default secret SETNAME n1
            CLIENT GETNAME
            !reconnect
            QUIT
            !closed
            RESET
            AUTH secret
            RESET
            GET k
            !raw "GET k\r\n"
            !raw "AUTH secret\r\n"
            !raw "GET k\r\n"
            """);
    }

    [Fact]
    public async Task ConfigSetRequirePass()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            AUTH secret
            CONFIG GET requirepass
            @1 GET k
            CONFIG SET requirepass other
            @2 AUTH secret
            @2 AUTH other
            @2 GET k
            CONFIG SET requirepass secret
            @3 AUTH other
            """);
    }
}
