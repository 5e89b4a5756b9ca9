using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>SUBSCRIBE/PSUBSCRIBE/PUBLISH/PUBSUB across two connections, RESP2 and RESP3.</summary>
public class PubSubDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task Resp2() => Run("""
        @1 SUBSCRIBE news
        @1 !send "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"
        @1 !read
        @1 !read
        @1 PSUBSCRIBE n*
        PUBLISH news hello
        @1 !read
        @1 !read
        PUBLISH a "x y"
        @1 !read
        PUBLISH nobody x
        !sort PUBSUB CHANNELS
        !sort PUBSUB CHANNELS n*
        PUBSUB NUMSUB news a nosuch
        PUBSUB NUMSUB
        PUBSUB NUMPAT
        PUBSUB FOO
        PUBSUB
        @1 PING
        @1 PING arg
        @1 GET x
        @1 SET x 1
        @1 UNSUBSCRIBE news
        @1 PUNSUBSCRIBE n*
        @1 PUNSUBSCRIBE nosuch*
        @1 UNSUBSCRIBE a
        @1 UNSUBSCRIBE
        @1 PUNSUBSCRIBE
        @1 GET x
        SUBSCRIBE
        PSUBSCRIBE
        PUBLISH a
        PUBLISH a b c
        PUBSUB NUMPAT
        @2 SUBSCRIBE x
        @2 QUIT
        @2 !closed
        PUBSUB NUMSUB x
        """);

    [Fact]
    public Task Resp3() => Run("""
        @1 !skip HELLO 3
        @1 SUBSCRIBE r3
        @1 GET x
        @1 PING
        PUBLISH r3 msg
        @1 !read
        @1 PSUBSCRIBE r*
        PUBLISH r3 msg2
        @1 !read
        @1 !read
        @1 UNSUBSCRIBE
        @1 PUNSUBSCRIBE
        @1 UNSUBSCRIBE
        @1 SET x 1
        """);
}
