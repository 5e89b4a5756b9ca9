using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>
/// maxmemory with the default policy (noeviction): once used memory is over the limit, commands that may grow memory
/// get redis's OOM error while reads and deletes keep working. Memory accounting differs (.NET heap vs jemalloc), so
/// the number of writes accepted is compared loosely; the replies are compared exactly.
/// </summary>
public class MaxMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WritesAreRefusedOverMaxmemoryLikeRedis()
    {
        var results = new List<(int Accepted, string Refusal, string Get, string Del, string Set)>();
        foreach (var kind in new[] { ServerKind.Redis, ServerKind.Kv })
        {
            await using var s = kind == ServerKind.Redis
                ? await ServerProcess.StartRedisAsync("--maxmemory", "4mb")
                : await ServerProcess.StartKvAsync("--maxmemory", "4mb");
            using var c = await s.ConnectAsync();
            var value = new string('x', 30_000);
            int accepted = 0;
            string refusal = "";
            for (int i = 0; i < 2000; i++)
            {
                var r = Encoding.ASCII.GetString(await c.CommandAsync("SET", "k" + i, value));
                if (r != "+OK\r\n") { refusal = r; break; }
                accepted++;
            }
            var get = Encoding.ASCII.GetString(await c.CommandAsync("STRLEN", "k0"));
            var del = Encoding.ASCII.GetString(await c.CommandAsync("DEL", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"));
            await c.CommandAsync("CONFIG", "SET", "maxmemory", "0");
            var set = Encoding.ASCII.GetString(await c.CommandAsync("SET", "after", "v"));
            output.WriteLine($"{kind}: accepted {accepted}, then {refusal.Trim()}");
            results.Add((accepted, refusal, get, del, set));
        }
        var (redis, kv) = (results[0], results[1]);
        Assert.Equal("-OOM command not allowed when used memory > 'maxmemory'.\r\n", redis.Refusal);
        Assert.Equal(redis.Refusal, kv.Refusal);
        Assert.Equal((redis.Get, redis.Del, redis.Set), (kv.Get, kv.Del, kv.Set));
        // 4 MB holds roughly a hundred 30 KB values on either server, not thousands.
        Assert.InRange(kv.Accepted, redis.Accepted / 4, redis.Accepted * 4);
    }
}
