using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>MULTI/EXEC/DISCARD/WATCH/UNWATCH, EXECABORT and queued errors, compared with redis.</summary>
public class TransactionDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task MultiExec() => Run("""
        EXEC
        DISCARD
        MULTI
        MULTI
        SET a 1
        INCR a
        GET a
        LPUSH a x
        INCR a
        EXEC
        GET a
        MULTI
        EXEC
        MULTI
        SET b 1
        DISCARD
        GET b
        MULTI extra
        EXEC extra
        MULTI
        SET inmulti 1
        EXEC extra
        EXEC
        GET inmulti
        DISCARD extra
        MULTI
        SET c 1
        NOSUCHCOMMAND
        SET c
        GET c
        EXEC
        GET c
        MULTI
        WATCH x
        UNWATCH
        PING
        ECHO e
        SELECT 1
        SET indb1 1
        SELECT 0
        EXEC
        SELECT 1
        GET indb1
        SELECT 0
        MULTI
        SUBSCRIBE ch
        EXEC
        MULTI
        SET d 1
        QUIT
        !closed
        GET d
        MULTI
        SET e 1
        DISCARD
        DISCARD
        """);

    [Fact]
    public Task Watch() => Run("""
        SET w 1
        WATCH w
        @1 SET w 2
        MULTI
        GET w
        EXEC
        WATCH w
        MULTI
        GET w
        EXEC
        WATCH w nosuch
        @1 SET nosuch 1
        MULTI
        PING
        EXEC
        WATCH w
        UNWATCH
        @1 SET w 3
        MULTI
        GET w
        EXEC
        WATCH w
        SET w 4
        MULTI
        GET w
        EXEC
        WATCH w
        MULTI
        SET w 5
        DISCARD
        @1 SET w 6
        MULTI
        GET w
        EXEC
        SET ew 1 PX 50
        WATCH ew
        !sleep 100
        MULTI
        GET ew
        EXEC
        WATCH
        UNWATCH x
        WATCH gone
        @1 SET gone 1
        @1 DEL gone
        MULTI
        PING
        EXEC
        WATCH fl
        @1 FLUSHALL
        MULTI
        PING
        EXEC
        SET fl 1
        WATCH fl
        @1 FLUSHALL
        MULTI
        PING
        EXEC
        SET sw 1
        WATCH sw
        @1 SWAPDB 0 1
        MULTI
        PING
        EXEC
        @1 SWAPDB 0 1
        SET ex 1
        WATCH ex
        @1 EXPIRE ex 100
        MULTI
        PING
        EXEC
        """);

    [Fact]
    public Task QueuedErrorKinds() => Run("""
        MULTI
        SET k v
        GET
        EXEC
        MULTI
        SET k v
        WATCH k
        EXEC
        MULTI
        INCR k
        SET k 5
        INCR k
        EXEC
        MULTI
        RPUSH l a
        RPOP l
        RPOP l
        LPOP l 0
        EXEC
        MULTI
        INFO notasection
        !skip EXEC
        """);
}
