/**
 * Places of the simulated world: cities with public addresses that geoip-lite (the database ingest
 * enriches with) places there. `fixed`: home and office lines, located to the city within 20 km.
 * `mobile`: addresses located only roughly (accuracy radius 100–1,000 km) somewhere near — the way
 * a phone on a carrier network looks. Found by scanning the address space with geoip-lite's own
 * lookup; test/unit/tools/simulator/places.test.ts checks every address still lands where it says, so a
 * geoip-lite update that moves one fails loudly instead of skewing the evaluation.
 */
import { distanceKm as greatCircleKm } from '../../platform/net/network.ts';

export interface City {
  name: string;
  /** ISO 3166 country code */
  country: string;
  lat: number;
  lon: number;
  /** fixed lines (home, office, hotel): located to this city */
  fixed: string[];
  /** carrier-network addresses: located roughly, near this city */
  mobile: string[];
}

/** Where users live and travel to. */
export const CITIES: readonly City[] = [
  {
    name: 'Berlin',
    country: 'DE',
    lat: 52.4936,
    lon: 13.3529,
    fixed: ['94.134.133.183', '194.94.134.221', '88.75.101.100', '46.90.58.71'],
    mobile: ['103.35.163.1', '109.41.244.201', '109.47.14.123'],
  },
  {
    name: 'Munich',
    country: 'DE',
    lat: 48.1497,
    lon: 11.585,
    fixed: ['78.53.18.191', '188.174.163.216', '84.134.111.220', '212.227.70.45'],
    mobile: ['103.35.163.1', '134.191.220.172', '137.248.113.95'],
  },
  {
    name: 'Hamburg',
    country: 'DE',
    lat: 53.6021,
    lon: 9.9589,
    fixed: ['194.95.79.165', '134.101.135.76', '92.77.240.49', '84.46.38.254'],
    mobile: ['103.35.163.1', '109.41.244.201', '109.47.14.123'],
  },
  {
    name: 'London',
    country: 'GB',
    lat: 51.5088,
    lon: -0.126,
    fixed: ['83.244.227.129', '193.63.8.22', '91.143.79.117', '137.73.40.69'],
    mobile: ['109.148.56.169', '109.175.136.85', '109.180.232.64'],
  },
  {
    name: 'Manchester',
    country: 'GB',
    lat: 53.4986,
    lon: -2.2385,
    fixed: ['80.41.175.118', '90.195.250.107', '2.216.103.229', '149.170.158.237'],
    mobile: ['109.148.56.169', '109.175.136.85', '109.180.232.64'],
  },
  {
    name: 'Paris',
    country: 'FR',
    lat: 48.8543,
    lon: 2.3527,
    fixed: ['62.23.87.226', '81.57.2.66', '92.169.55.110', '81.255.67.243'],
    mobile: ['109.190.249.70', '109.2.235.93', '109.216.225.132'],
  },
  {
    name: 'Lyon',
    country: 'FR',
    lat: 45.748,
    lon: 4.85,
    fixed: ['90.66.8.48', '185.53.138.85', '88.160.235.105', '176.151.223.175'],
    mobile: ['109.190.249.70', '109.2.235.93', '109.216.225.132'],
  },
  {
    name: 'Madrid',
    country: 'ES',
    lat: 40.4143,
    lon: -3.7016,
    fixed: ['137.101.230.136', '88.16.90.39', '79.144.204.73', '87.216.79.3'],
    mobile: ['109.167.42.31', '130.206.115.57', '130.206.173.15'],
  },
  {
    name: 'Amsterdam',
    country: 'NL',
    lat: 52.352,
    lon: 4.9392,
    fixed: ['92.111.150.205', '143.176.8.125', '89.98.128.12'],
    mobile: ['104.104.194.161', '104.121.171.183', '104.123.126.122'],
  },
  {
    name: 'Stockholm',
    country: 'SE',
    lat: 59.3307,
    lon: 18.0718,
    fixed: ['84.216.110.22', '188.151.159.44', '84.217.69.165', '213.89.168.118'],
    mobile: ['109.225.110.177', '129.178.58.215', '13.48.21.114'],
  },
  {
    name: 'Warsaw',
    country: 'PL',
    lat: 52.2396,
    lon: 20.999,
    fixed: ['89.74.66.210', '77.114.167.145', '176.111.229.244', '89.66.123.17'],
    mobile: ['109.231.40.200', '109.231.44.8', '109.241.67.18'],
  },
  {
    name: 'Milan',
    country: 'IT',
    lat: 45.4707,
    lon: 9.1889,
    fixed: ['2.34.46.124', '87.9.54.126', '151.21.203.144', '87.0.129.147'],
    mobile: ['101.56.175.145', '101.56.31.249', '101.57.130.110'],
  },
  {
    name: 'Rome',
    country: 'IT',
    lat: 41.8904,
    lon: 12.5124,
    fixed: ['87.10.221.56', '109.117.128.134', '79.27.214.213', '195.94.171.89'],
    mobile: ['101.56.175.145', '101.56.31.249', '101.57.130.110'],
  },
  {
    name: 'New York',
    country: 'US',
    lat: 40.7428,
    lon: -73.9712,
    fixed: ['209.122.224.231', '208.251.136.93', '157.139.160.89', '216.158.136.162'],
    mobile: ['107.172.84.148', '167.240.241.193', '172.98.26.106'],
  },
  {
    name: 'Chicago',
    country: 'US',
    lat: 41.892,
    lon: -87.6416,
    fixed: ['136.30.164.111', '73.72.93.35', '131.193.213.43', '162.234.12.236'],
    mobile: ['100.184.229.171', '100.209.196.232', '104.75.23.227'],
  },
  {
    name: 'San Francisco',
    country: 'US',
    lat: 37.747,
    lon: -122.4389,
    fixed: ['157.131.197.73', '138.202.164.248', '69.198.165.107', '73.92.243.218'],
    mobile: ['104.216.204.167', '12.131.189.8', '146.252.136.123'],
  },
  {
    name: 'Los Angeles',
    country: 'US',
    lat: 34.0672,
    lon: -118.3016,
    fixed: ['108.225.159.11', '172.11.64.142', '199.189.23.185', '204.102.67.231'],
    mobile: ['104.216.204.167', '146.252.136.123', '159.65.96.163'],
  },
  {
    name: 'Seattle',
    country: 'US',
    lat: 47.6564,
    lon: -122.3048,
    fixed: ['128.208.48.63', '66.171.178.60', '24.18.239.180', '140.142.39.63'],
    mobile: ['146.252.136.123', '159.65.96.163', '165.153.85.28'],
  },
  {
    name: 'Toronto',
    country: 'CA',
    lat: 43.6591,
    lon: -79.4626,
    fixed: ['74.12.34.0', '142.151.82.129', '38.110.83.122', '99.231.3.214'],
    mobile: ['108.163.190.151', '108.63.191.251', '128.144.156.172'],
  },
  {
    name: 'Mexico City',
    country: 'MX',
    lat: 19.5166,
    lon: -99.1496,
    fixed: ['201.145.57.212', '189.236.226.98', '187.199.158.202', '187.207.67.67'],
    mobile: ['131.178.79.21', '131.178.85.44', '132.247.133.14'],
  },
  {
    name: 'São Paulo',
    country: 'BR',
    lat: -23.63,
    lon: -46.6322,
    fixed: ['143.107.86.218', '179.35.223.226', '177.149.63.188', '177.48.144.122'],
    mobile: ['138.219.90.115', '146.134.247.89', '146.164.138.52'],
  },
  {
    name: 'Rio de Janeiro',
    country: 'BR',
    lat: -22.9201,
    lon: -43.3307,
    fixed: ['191.163.9.175', '187.14.69.141', '187.15.94.214', '179.35.77.194'],
    mobile: ['138.219.90.115', '146.134.247.89', '146.164.138.52'],
  },
  {
    name: 'Tokyo',
    country: 'JP',
    lat: 35.6226,
    lon: 139.6963,
    fixed: ['114.22.219.66', '121.115.175.79', '122.213.74.4', '122.209.126.49'],
    mobile: ['1.114.128.70', '1.115.14.212', '1.73.47.157'],
  },
  {
    name: 'Osaka',
    country: 'JP',
    lat: 34.6869,
    lon: 135.5211,
    fixed: ['112.71.194.189', '119.26.247.53', '119.230.248.62', '125.205.225.15'],
    mobile: ['1.114.128.70', '1.115.14.212', '1.73.47.157'],
  },
  {
    name: 'Seoul',
    country: 'KR',
    lat: 37.5985,
    lon: 126.9783,
    fixed: ['14.40.64.178', '183.102.2.168', '219.255.171.11', '112.144.110.203'],
    mobile: ['1.102.238.235', '1.106.252.104', '1.108.136.222'],
  },
  {
    name: 'Singapore',
    country: 'SG',
    lat: 1.2996,
    lon: 103.8549,
    fixed: ['118.200.200.199', '183.90.34.255', '42.61.98.209', '182.55.44.135'],
    mobile: ['101.167.208.42', '101.53.168.201', '101.53.177.80'],
  },
  {
    name: 'Mumbai',
    country: 'IN',
    lat: 18.9912,
    lon: 72.8342,
    fixed: ['103.109.87.151', '120.61.2.243', '103.196.202.31', '203.192.230.45'],
    mobile: ['1.187.17.82', '1.6.25.161', '1.6.61.143'],
  },
  {
    name: 'Bengaluru',
    country: 'IN',
    lat: 12.9719,
    lon: 77.5937,
    fixed: ['122.182.198.255', '106.51.32.129', '27.34.242.106', '1.39.133.242'],
    mobile: ['1.187.17.82', '1.6.25.161', '1.6.61.143'],
  },
  {
    name: 'Sydney',
    country: 'AU',
    lat: -33.8591,
    lon: 151.2002,
    fixed: ['61.68.121.86', '49.191.4.3', '220.233.208.5', '203.33.117.32'],
    mobile: ['1.120.137.232', '1.120.73.243', '1.121.149.178'],
  },
  {
    name: 'Melbourne',
    country: 'AU',
    lat: -37.8411,
    lon: 144.9799,
    fixed: ['101.188.153.71', '175.45.67.148', '203.45.10.110', '161.43.114.144'],
    mobile: ['1.120.137.232', '1.120.73.243', '1.121.149.178'],
  },
  {
    name: 'Cape Town',
    country: 'ZA',
    lat: -33.9258,
    lon: 18.4259,
    fixed: ['102.65.3.25', '41.164.37.34', '197.88.180.180', '41.144.143.194'],
    mobile: ['102.133.26.170', '102.65.38.57', '105.10.212.155'],
  },
  {
    name: 'Johannesburg',
    country: 'ZA',
    lat: -26.2309,
    lon: 28.0583,
    fixed: ['197.228.235.131', '197.101.63.61', '154.69.26.234', '146.141.5.238'],
    mobile: ['102.130.165.14', '102.133.244.56', '102.140.105.24'],
  },
  {
    name: 'Lagos',
    country: 'NG',
    lat: 6.4474,
    lon: 3.3903,
    fixed: ['41.58.230.82', '105.235.202.46', '197.242.245.243', '196.6.103.175'],
    mobile: ['102.129.38.11', '102.129.38.122', '102.130.0.173'],
  },
];

/** Where attackers operate from (their infrastructure; never a user's home). */
export const ATTACKER_CITIES: readonly City[] = [
  {
    name: 'Moscow',
    country: 'RU',
    lat: 55.7527,
    lon: 37.6172,
    fixed: ['46.28.90.98', '77.247.128.160', '91.77.71.27', '178.217.178.9'],
    mobile: ['109.161.44.194', '109.188.170.122', '109.188.36.82'],
  },
  {
    name: 'Beijing',
    country: 'CN',
    lat: 39.9288,
    lon: 116.3889,
    fixed: ['124.205.11.216', '203.187.166.11', '221.223.31.65', '123.116.119.215'],
    mobile: ['1.197.87.193', '1.199.185.53', '106.45.106.176'],
  },
  {
    name: 'Hanoi',
    country: 'VN',
    lat: 21.0313,
    lon: 105.8516,
    fixed: ['14.231.110.38', '171.241.24.239', '171.240.48.181', '118.70.8.121'],
    mobile: ['1.52.160.9', '1.52.177.109', '1.52.179.71'],
  },
  {
    name: 'Bucharest',
    country: 'RO',
    lat: 44.418,
    lon: 26.1691,
    fixed: ['89.122.155.142', '141.85.54.166', '79.115.161.174', '78.96.196.146'],
    mobile: ['109.100.227.47', '109.101.170.3', '109.101.189.202'],
  },
  {
    name: 'Kyiv',
    country: 'UA',
    lat: 50.4333,
    lon: 30.5167,
    fixed: ['78.159.59.64', '95.47.164.139', '78.27.177.210', '188.190.253.167'],
    mobile: ['109.122.7.187', '109.196.191.108', '109.206.50.189'],
  },
  {
    name: 'Ashburn',
    country: 'US',
    lat: 39.0127,
    lon: -77.5342,
    fixed: ['209.0.138.17', '192.88.16.239', '98.99.240.59', '73.147.202.108'],
    mobile: ['107.172.84.148', '167.240.241.193', '172.98.26.106'],
  },
];

/** The corporate VPN's egress network (Amsterdam): allowlisted in tokenwatch, as deployments do. */
export const VPN_EGRESS_CIDR = '212.104.253.0/24';
/** The VPN's egress addresses (within VPN_EGRESS_CIDR). */
export const VPN_EGRESS_IPS: readonly string[] = ['212.104.253.213', '212.104.253.215'];

/** The place of an address on this list (another address of the same /24 block, same place). */
export function sameBlock(ip: string, last: number): string {
  return `${ip.slice(0, ip.lastIndexOf('.'))}.${last}`;
}

/** Great-circle distance in km, as the impossible_travel detector measures it. */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  return greatCircleKm(a.lat, a.lon, b.lat, b.lon);
}
